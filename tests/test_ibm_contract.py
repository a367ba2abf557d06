"""Contract: the exact requests one `qrun apply` submit and one collect send to IBM Quantum.

The expected sequences are built from the rows of the "Requests per operation" table in
IBM_RUNTIME_PROTOCOL.md (qiskit-ibm-runtime 0.51), copied here as data. A client upgrade
that changes the wire protocol, or a runner change that adds calls, fails here loudly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import qiskit_ibm_runtime  # noqa: F401  (main-thread import: see tests/test_ibm_backend.py)

from runner.schedule import parse_time
from tests.ibm_emulator import IBMRuntimeEmulator
from tests.ibm_emulator.faults import RecordedRequest
from tests.test_ibm_backend import FAST, latest, qrun, spec_text, use_specs

Row = list[tuple[str, str]]

# --- the documented table, one entry per row used by qrun ------------------------------
SERVICE: Row = [  # QiskitRuntimeService(...)
    ("POST", "/identity/token"),
    ("POST", "/v3/resources/search"),
    ("GET", "/catalog/{plan}"),
    ("POST", "/identity/token"),
    ("GET", "/api/v1/backends"),
]
USAGE: Row = [("GET", "/api/v1/instances/usage")]  # service.usage()
JOBS_BY_TAGS: Row = [("GET", "/api/v1/jobs")]  # service.jobs(job_tags=[...], limit=None)
PENDING: Row = [("GET", "/api/v1/jobs")]  # service.jobs(job_tags=["qrun"], pending=True)
BACKEND: Row = [  # service.backend(name)
    ("GET", "/api/v1/backends"),
    ("GET", "/api/v1/backends/{backend}/configuration"),
]
TARGET: Row = [("GET", "/api/v1/backends/{backend}/properties")]  # backend.target
BACKEND_STATUS: Row = [("GET", "/api/v1/backends/{backend}/status")]  # backend.status()
RUN: Row = [  # executor_sampler.Sampler(mode=backend).run(...): lists backends first
    ("GET", "/api/v1/backends"),
    ("GET", "/api/v1/instances/usage"),
    ("GET", "/api/v1/backends/{backend}/status"),
    ("POST", "/api/v1/jobs"),
]
JOB_STATUS: Row = [("GET", "/api/v1/jobs/{job}")]  # job.status()
RESULTS: Row = [("GET", "/api/v1/jobs/{job}/results")]  # job.result() once final
METRICS: Row = [("GET", "/api/v1/jobs/{job}/metrics")]  # job.metrics()
FINISHED: Row = [  # service.jobs(job_tags=["qrun"], pending=False, backend_name=…,
    ("GET", "/api/v1/jobs"),  # created_after=…, limit=200): a page of finished jobs, whose
    ("GET", "/api/v1/backends/{backend}/configuration"),  # objects need no lookup of their own
]
# backend.properties(datetime=...): the calibration as of the job's start (updated_before)
PROPERTIES_AT: Row = [("GET", "/api/v1/backends/{backend}/properties")]

# --- what qrun does with them -----------------------------------------------------------
SUBMIT = (
    SERVICE
    + USAGE  # plan: the instance's remaining QPU time
    + BACKEND  # check before claiming: credentials work and the device exists
    + JOBS_BY_TAGS  # adopt jobs of a crashed runner instead of submitting twice
    + TARGET  # seeded transpilation to the device's ISA
    + RUN
    + PENDING  # the collect pass that follows every submit: one listing, the job in it
    + BACKEND_STATUS  # queue length for the dashboard, once per backend
)
COLLECT = SERVICE + PENDING + FINISHED + JOB_STATUS + METRICS + RESULTS + PROPERTIES_AT


def shape(request: RecordedRequest, names: dict[str, str]) -> tuple[str, str]:
    """(method, path) with the job id, backend and catalog plan replaced by placeholders."""
    path = request.path
    for value, placeholder in names.items():
        path = path.replace(value, placeholder)
    return request.method, re.sub(r"^/catalog/[^/]+$", "/catalog/{plan}", path)


@dataclass(frozen=True)
class Recorded:
    emulator: IBMRuntimeEmulator
    submit: list[RecordedRequest]  # one `qrun apply` that submits
    collect: list[RecordedRequest]  # the next `qrun apply`, which collects
    run: dict[str, Any]  # the collected run, from the lock


@pytest.fixture
def recorded(project: Path, make_ibm_emulator: Any, capsys: pytest.CaptureFixture[str]) -> Recorded:
    """One IBM experiment already completed, then one submit pass and one collect pass of
    a second experiment."""
    emulator = make_ibm_emulator(**FAST)
    use_specs(project, done=spec_text("done"))
    assert qrun(capsys, "apply").code == 0
    assert latest(project, "done")["status"] == "completed"
    emulator.jobs.hold()
    use_specs(project, done=spec_text("done"), hw=spec_text("hw", shots=50))
    emulator.clear_requests()
    assert qrun(capsys, "apply").code == 0
    submit = emulator.requests
    emulator.jobs.release()
    emulator.clear_requests()
    assert qrun(capsys, "apply").code == 0
    collect = emulator.requests
    run = latest(project, "hw")
    assert run["status"] == "completed"
    return Recorded(emulator, submit, collect, run)


def test_submit_and_collect_send_exactly_the_documented_requests(recorded: Recorded) -> None:
    submit, collect, run = recorded.submit, recorded.collect, recorded.run
    names = {run["jobs"][0]["id"]: "{job}", "ibm_fez": "{backend}"}
    assert [shape(r, names) for r in submit] == SUBMIT
    assert [shape(r, names) for r in collect] == COLLECT
    assert all(r.status == 200 for r in submit + collect)


def test_request_details_match_the_protocol(recorded: Recorded) -> None:
    submit, collect, run = recorded.submit, recorded.collect, recorded.run
    tags = ["qrun", "qrun:hw", f"qrun:{run['id']}"]
    for token in (r for r in submit + collect if r.path == "/identity/token"):
        assert token.fields == {
            "grant_type": "urn:ibm:params:oauth:grant-type:apikey",
            "response_type": "cloud_iam",
        }
    listing = next(r for r in submit if r.path == "/api/v1/jobs" and r.method == "GET")
    assert listing.query["tags"] == tags  # all must match: this spec and this run
    assert listing.query["exclude_params"] == ["true"] and listing.query["limit"] == ["20"]
    (post,) = [r for r in submit if r.method == "POST" and r.api_path == "/jobs"]
    assert post.fields["program_id"] == "executor" and post.fields["backend"] == "ibm_fez"
    assert post.fields["tags"] == tags and "session_id" not in post.fields  # job mode
    assert post.fields["params_keys"] == ["options", "quantum_program", "schema_version"]
    for poll in (r for r in submit + collect if re.fullmatch(r"/api/v1/jobs/\w+", r.path)):
        assert poll.query == {"exclude_params": ["true"]}
    for backends in (r for r in submit + collect if r.path == "/api/v1/backends"):
        assert backends.query == {"include_mocks": ["True"]}
    pending, finished = (r for r in collect if r.path == "/api/v1/jobs")
    assert pending.query["pending"] == ["true"] and pending.query["tags"] == ["qrun"]
    assert finished.query["pending"] == ["false"] and finished.query["tags"] == ["qrun"]
    assert finished.query["limit"] == ["200"] and "offset" not in finished.query  # the newest
    assert finished.query["backend"] == ["ibm_fez"]  # the run's device: no other's decoding
    window = datetime.now(UTC) - parse_time(finished.query["created_after"][0])
    assert timedelta(days=6) < window < timedelta(days=8)  # a week: older ones are looked up
    (as_of,) = [r for r in collect if r.path.endswith("/properties")]
    assert list(as_of.query) == ["updated_before"]  # the calibration the job ran under
    assert all(r.headers.get("Service-CRN") == recorded.emulator.crn for r in submit if r.api_path)


def test_collect_asks_nothing_about_experiments_that_are_not_pending(
    recorded: Recorded, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator, submit, collect = recorded.emulator, recorded.submit, recorded.collect
    done_job = latest(project, "done")["jobs"][0]["id"]
    assert not any(done_job in r.path or done_job in str(r.query) for r in submit + collect)
    emulator.clear_requests()
    assert qrun(capsys, "apply").code == 0  # everything final: not even a sign-in
    assert emulator.requests == []
