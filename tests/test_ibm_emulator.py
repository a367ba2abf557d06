"""The unmodified qiskit-ibm-runtime client against the IBM Quantum emulator over HTTP.

Each test starts its own emulator on 127.0.0.1 (``ibm_emulator`` fixture) and builds
``QiskitRuntimeService`` from the environment the way the qrun runner does. The
contract test pins the request sequence documented in IBM_RUNTIME_PROTOCOL.md.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import pytest

from tests.ibm_emulator import IBMRuntimeEmulator, emulator_url_resolver
from tests.ibm_emulator.plugin import NetworkGuard  # fixtures come via conftest's plugin

pytestmark = [
    pytest.mark.filterwarnings("ignore:The SamplerV2 class is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:The EstimatorV2 class is deprecated:DeprecationWarning"),
]

FAST = {"queued_polls": 0, "running_polls": 0}  # jobs answer Completed on the first poll
SHOTS = 2000
TAGS = ["qrun", "qrun:bell", "qrun:run-0001"]


def new_service() -> Any:
    """A QiskitRuntimeService built only from the environment, as a runner process does."""
    from qiskit_ibm_runtime import QiskitRuntimeService

    return QiskitRuntimeService(
        channel=os.environ["IBM_QUANTUM_CHANNEL"],
        token=os.environ["IBM_QUANTUM_TOKEN"],
        instance=os.environ["IBM_QUANTUM_INSTANCE"],
        url=os.environ["IBM_QUANTUM_URL"],
        url_resolver=emulator_url_resolver,
    )


def bell(backend: Any, measure: bool = True) -> Any:
    """A Bell circuit transpiled to the backend's target with a fixed seed."""
    from qiskit import QuantumCircuit, transpile

    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    if measure:
        circuit.measure_all()
    return transpile(circuit, backend=backend, optimization_level=1, seed_transpiler=11)


def run_bell(backend: Any, mode: Any = None, **options: Any) -> Any:
    """Submit one Bell PUB with SamplerV2 and return the job."""
    from qiskit_ibm_runtime import SamplerV2

    sampler = SamplerV2(mode=mode or backend, options=options or None)
    return sampler.run([bell(backend)], shots=SHOTS)


def assert_bell_counts(counts: dict[str, int], shots: int = SHOTS, noisy: bool = False) -> None:
    """Mostly 00 and 11, split about evenly (5 sigma)."""
    correlated = counts.get("00", 0) + counts.get("11", 0)
    assert correlated >= (0.85 if noisy else 1.0) * shots
    assert abs(counts.get("00", 0) - correlated / 2) < 5 * (correlated**0.5) / 2


# --- the main cycle: submit, poll, result, find again from a new process ---------------


def test_sampler_job_walks_states_and_is_found_again_by_id_and_tags(
    ibm_emulator: IBMRuntimeEmulator, no_outside_network: NetworkGuard
) -> None:
    service = new_service()
    backend = service.backend("ibm_fez")
    job = run_bell(backend, environment={"job_tags": TAGS})
    job_id = job.job_id()

    assert [job.status() for _ in range(3)] == ["QUEUED", "RUNNING", "DONE"]
    assert_bell_counts(job.result()[0].data.meas.get_counts())
    assert ibm_emulator.submissions == 1

    later = new_service()  # a later runner process
    found = later.job(job_id)
    assert found.status() == "DONE"
    assert found.result()[0].data.meas.get_counts() == job.result()[0].data.meas.get_counts()
    assert [j.job_id() for j in later.jobs(job_tags=TAGS[:2], limit=5)] == [job_id]
    assert later.jobs(job_tags=[TAGS[0], "qrun:other"]) == []

    recorded = ibm_emulator.requests
    assert no_outside_network.attempts == []
    assert {r.host for r in recorded} == {ibm_emulator.url.removeprefix("http://")}
    assert {r.client for r in recorded} == {"127.0.0.1"}
    iam = [r for r in recorded if r.path == "/identity/token"]
    assert iam and all(ibm_emulator.token.encode() in r.body for r in iam)
    for r in recorded:
        assert ibm_emulator.token not in r.path + json.dumps(r.query) + json.dumps(r.headers)
        if r not in iam:
            assert ibm_emulator.token.encode() not in r.body


@pytest.mark.parametrize("ibm_emulator", [FAST], indirect=True)
def test_without_iam_url_the_client_would_call_ibm_and_the_guard_stops_it(
    ibm_emulator: IBMRuntimeEmulator,
    no_outside_network: NetworkGuard,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from qiskit_ibm_runtime.accounts.exceptions import InvalidAccountError

    monkeypatch.delenv("IAM_URL")
    with pytest.raises(InvalidAccountError):
        new_service()
    # The API key would have gone to iam.<IBM_QUANTUM_URL host>; the guard refused the look-up.
    assert no_outside_network.attempts == ["getaddrinfo iam.127.0.0.1"]
    assert ibm_emulator.requests == []


# --- contract: the request sequence of IBM_RUNTIME_PROTOCOL.md ----------------------------

# (operation, method, path pattern) per row of "Requests per operation"; POLL marks a
# request that may repeat.
POLL = " (repeated)"
PROTOCOL = [
    ("QiskitRuntimeService(...)", "POST", r"/identity/token"),
    ("QiskitRuntimeService(...)", "POST", r"/v3/resources/search"),
    ("QiskitRuntimeService(...)", "GET", r"/catalog/[^/]+"),
    ("QiskitRuntimeService(...)", "POST", r"/identity/token"),
    ("QiskitRuntimeService(...)", "GET", r"/api/v1/backends"),
    ("service.backend(name)", "GET", r"/api/v1/backends"),
    ("service.backend(name)", "GET", r"/api/v1/backends/[^/]+/configuration"),
    ("backend.target", "GET", r"/api/v1/backends/[^/]+/properties"),
    ("SamplerV2.run", "GET", r"/api/v1/instances/usage"),
    ("SamplerV2.run", "GET", r"/api/v1/backends/[^/]+/status"),
    ("SamplerV2.run", "POST", r"/api/v1/jobs"),
    ("job.result()", "GET", r"/api/v1/jobs/[^/]+" + POLL),
    ("job.result()", "GET", r"/api/v1/jobs/[^/]+/results"),
]
QUERIES = {  # query strings the table documents
    r"/api/v1/backends": {"include_mocks": ["True"]},
    r"/api/v1/jobs/[^/]+": {"exclude_params": ["true"]},
    r"/v3/resources/search": {"limit": ["100"]},
}


def protocol_steps(requests: list[Any]) -> list[tuple[str, str]]:
    """Map recorded requests to table rows, folding repeated polls into one step."""
    steps: list[tuple[str, str]] = []
    for request in requests:
        step = next(
            (
                (method, pattern)
                for _op, method, pattern in PROTOCOL
                if method == request.method
                and re.fullmatch(pattern.removesuffix(POLL), request.path)
            ),
            (request.method, request.path),
        )
        if not (step[1].endswith(POLL) and steps and steps[-1] == step):
            steps.append(step)
        for pattern, query in QUERIES.items():
            if re.fullmatch(pattern, request.path):
                assert request.query == query, request.path
    return steps


def test_contract_submit_poll_result_matches_documented_sequence(
    ibm_emulator: IBMRuntimeEmulator,
) -> None:
    service = new_service()
    backend = service.backend("ibm_fez")
    job = run_bell(backend)
    job.result()

    steps = protocol_steps(ibm_emulator.requests)
    assert steps == [(m, p) for _op, m, p in PROTOCOL]
    polls = [r for r in ibm_emulator.requests if r.path == f"/api/v1/jobs/{job.job_id()}"]
    assert len(polls) >= 3  # Queued, Running, Completed
    posted = next(r for r in ibm_emulator.requests if r.method == "POST" and r.api_path == "/jobs")
    assert posted.fields["program_id"] == "sampler"
    assert posted.fields["backend"] == "ibm_fez"
    assert posted.fields["params_keys"] == ["options", "pubs", "support_qiskit", "version"]


# --- primitives and modes -----------------------------------------------------------------


@pytest.mark.parametrize("ibm_emulator", [FAST], indirect=True)
def test_batch_runs_two_jobs_in_one_session(ibm_emulator: IBMRuntimeEmulator) -> None:
    from qiskit_ibm_runtime import Batch

    backend = new_service().backend("ibm_fez")
    with Batch(backend=backend) as batch:
        jobs = [run_bell(backend, mode=batch) for _ in range(2)]
    for job in jobs:
        assert job.session_id == batch.session_id
        assert_bell_counts(job.result()[0].data.meas.get_counts())

    session = ibm_emulator.sessions[batch.session_id]
    assert session["mode"] == "batch" and session["accepting_jobs"] is False
    api = ibm_emulator.api_requests()
    assert api.count(("POST", "/sessions")) == 1
    assert ("PATCH", f"/sessions/{batch.session_id}") in api
    posted = [r for r in ibm_emulator.requests if r.method == "POST" and r.api_path == "/jobs"]
    assert [r.fields["session_id"] for r in posted] == [batch.session_id] * 2


@pytest.mark.parametrize("ibm_emulator", [FAST], indirect=True)
def test_cancelling_a_batch_cancels_its_pending_jobs(ibm_emulator: IBMRuntimeEmulator) -> None:
    from qiskit_ibm_runtime import Batch

    backend = new_service().backend("ibm_fez")
    ibm_emulator.jobs.hold()
    batch = Batch(backend=backend)
    jobs = [run_bell(backend, mode=batch) for _ in range(2)]
    batch.cancel()
    assert [job.status() for job in jobs] == ["CANCELLED"] * 2
    assert ("DELETE", f"/sessions/{batch.session_id}/close") in ibm_emulator.api_requests()
    assert ibm_emulator.sessions[batch.session_id]["state"] == "closed"


@pytest.mark.parametrize("ibm_emulator", [FAST], indirect=True)
def test_dedicated_session_is_refused_like_the_open_plan(ibm_emulator: IBMRuntimeEmulator) -> None:
    from qiskit_ibm_runtime import Session
    from qiskit_ibm_runtime.api.exceptions import RequestsApiError

    backend = new_service().backend("ibm_fez")
    with pytest.raises(RequestsApiError, match="not available on this plan"):
        Session(backend=backend)


@pytest.mark.parametrize("ibm_emulator", [FAST], indirect=True)
def test_estimator_expectation_values(ibm_emulator: IBMRuntimeEmulator) -> None:
    from qiskit.quantum_info import SparsePauliOp
    from qiskit_ibm_runtime import EstimatorV2

    backend = new_service().backend("ibm_fez")
    circuit = bell(backend, measure=False)
    observables = [SparsePauliOp(p).apply_layout(circuit.layout) for p in ("ZZ", "XX", "ZI")]
    job = EstimatorV2(mode=backend).run([(circuit, observables)])
    evs = job.result()[0].data.evs
    assert evs == pytest.approx([1.0, 1.0, 0.0], abs=0.1)
    assert ibm_emulator.jobs[job.job_id()].program_id == "estimator"


@pytest.mark.parametrize("ibm_emulator", [FAST], indirect=True)
def test_executor_based_sampler(ibm_emulator: IBMRuntimeEmulator) -> None:
    from qiskit_ibm_runtime.executor_sampler import Sampler

    backend = new_service().backend("ibm_fez")
    job = Sampler(mode=backend).run([bell(backend)], shots=SHOTS)
    assert_bell_counts(job.result()[0].data.meas.get_counts())
    assert ibm_emulator.jobs[job.job_id()].program_id == "executor"


# a small device keeps the full-device noise model cheap to build
@pytest.mark.parametrize(
    "ibm_emulator", [{**FAST, "noisy": True, "backends": ("fake_manila",)}], indirect=True
)
def test_noisy_mode_uses_the_fake_backend_noise_model(ibm_emulator: IBMRuntimeEmulator) -> None:
    backend = new_service().backend("ibmq_manila")
    counts = run_bell(backend).result()[0].data.meas.get_counts()
    assert_bell_counts(counts, noisy=True)
    assert set(counts) - {"00", "11"}  # the device noise shows up


# --- job outcomes ---------------------------------------------------------------------------


@pytest.mark.parametrize("ibm_emulator", [FAST], indirect=True)
def test_cancel_a_queued_job(ibm_emulator: IBMRuntimeEmulator) -> None:
    from qiskit_ibm_runtime.exceptions import RuntimeInvalidStateError

    ibm_emulator.jobs.hold()
    job = run_bell(new_service().backend("ibm_fez"))
    assert job.status() == "QUEUED"
    job.cancel()
    assert new_service().job(job.job_id()).status() == "CANCELLED"
    with pytest.raises(RuntimeInvalidStateError):
        job.result()
    with pytest.raises(RuntimeInvalidStateError):
        job.cancel()  # 409: already final
    assert job.metrics()["usage"]["quantum_seconds"] == 0


@pytest.mark.parametrize("ibm_emulator", [FAST], indirect=True)
def test_failed_job_reports_its_reason(ibm_emulator: IBMRuntimeEmulator) -> None:
    from qiskit_ibm_runtime.exceptions import RuntimeJobFailureError

    ibm_emulator.jobs.fail_next("Calibration error on qubit 3")
    job = run_bell(new_service().backend("ibm_fez"))
    with pytest.raises(RuntimeJobFailureError, match="Calibration error on qubit 3"):
        job.result()
    assert job.status() == "ERROR"
    assert ibm_emulator.jobs[job.job_id()].status == "Failed"


@pytest.mark.parametrize("ibm_emulator", [FAST], indirect=True)
def test_job_over_max_execution_time_is_cancelled_as_ran_too_long(
    ibm_emulator: IBMRuntimeEmulator,
) -> None:
    from qiskit_ibm_runtime.exceptions import RuntimeJobMaxTimeoutError

    job = run_bell(new_service().backend("ibm_fez"), max_execution_time=1)
    with pytest.raises(RuntimeJobMaxTimeoutError, match="Ran too long"):
        job.result()
    record = ibm_emulator.jobs[job.job_id()]
    assert (record.status, record.reason_code) == ("Cancelled", 1305)
    assert job.usage() == 1  # charged up to the limit


@pytest.mark.parametrize("ibm_emulator", [FAST], indirect=True)
def test_metrics_and_usage_are_deterministic(ibm_emulator: IBMRuntimeEmulator) -> None:
    service = new_service()
    before = service.usage()
    job = run_bell(service.backend("ibm_fez"))
    job.result()
    expected = ibm_emulator.config.cost.quantum_seconds(1, SHOTS)
    assert expected == 2  # ceil(1 + 0.1 * 1 circuit + 0.0002 * 2000 shots)
    metrics = job.metrics()
    assert metrics["usage"]["quantum_seconds"] == expected
    assert metrics["timestamps"]["finished"] is not None
    assert job.usage() == expected
    after = service.usage()
    assert after["usage_consumed_seconds"] == before["usage_consumed_seconds"] + expected
    assert after["usage_limit_seconds"] == 600
    assert after["usage_remaining_seconds"] == 600 - after["usage_consumed_seconds"]


@pytest.mark.parametrize("ibm_emulator", [FAST], indirect=True)
def test_exhausted_usage_warns_and_keeps_jobs_queued(ibm_emulator: IBMRuntimeEmulator) -> None:
    service = new_service()
    ibm_emulator.set_usage(consumed_seconds=600, limit_seconds=600)
    assert service.usage()["usage_limit_reached"] is True
    with pytest.warns(UserWarning, match="usage limit"):
        job = run_bell(service.backend("ibm_fez"))
    assert [job.status() for _ in range(3)] == ["QUEUED"] * 3
    ibm_emulator.set_usage(consumed_seconds=0, limit_seconds=None)
    assert job.status() == "DONE"


@pytest.mark.parametrize("ibm_emulator", [FAST], indirect=True)
def test_job_list_filters_paging_and_tag_updates(ibm_emulator: IBMRuntimeEmulator) -> None:
    service = new_service()
    fez, kingston = service.backend("ibm_fez"), service.backend("ibm_kingston")
    ibm_emulator.jobs.hold()
    ids = [run_bell(b, environment={"job_tags": ["qrun"]}).job_id() for b in (kingston, kingston)]
    ids.append(run_bell(fez, environment={"job_tags": ["qrun"]}).job_id())

    assert [j.job_id() for j in service.jobs()] == ids[::-1]  # newest first
    assert [j.job_id() for j in service.jobs(descending=False)] == ids
    assert [j.job_id() for j in service.jobs(limit=1, skip=1)] == [ids[1]]
    assert [j.job_id() for j in service.jobs(backend_name="ibm_fez")] == [ids[2]]
    assert len(service.jobs(pending=True)) == 3 and service.jobs(pending=False) == []
    created = service.jobs(descending=False)[1].creation_date
    assert [j.job_id() for j in service.jobs(created_after=created, descending=False)] == ids[1:]

    service.job(ids[0]).update_tags(["qrun", "qrun:adopted"])
    assert [j.job_id() for j in service.jobs(job_tags=["qrun:adopted"])] == [ids[0]]
    assert sorted(ibm_emulator.jobs[ids[0]].tags) == ["qrun", "qrun:adopted"]


@pytest.mark.parametrize("ibm_emulator", [{**FAST, "backends": ("fake_fez",)}], indirect=True)
def test_unknown_backend_and_unknown_job(ibm_emulator: IBMRuntimeEmulator) -> None:
    from qiskit.providers.exceptions import QiskitBackendNotFoundError
    from qiskit_ibm_runtime.exceptions import RuntimeJobNotFound

    service = new_service()
    assert [b.name for b in service.backends()] == ["ibm_fez"]
    with pytest.raises(QiskitBackendNotFoundError):
        service.backend("ibm_kingston")
    with pytest.raises(RuntimeJobNotFound):
        service.job("doesnotexist00000000")


# --- faults -----------------------------------------------------------------------------------


@pytest.mark.parametrize("ibm_emulator", [FAST], indirect=True)
def test_429_with_retry_after_and_503_are_survived_by_the_client(
    ibm_emulator: IBMRuntimeEmulator,
) -> None:
    service = new_service()
    backend = service.backend("ibm_fez")
    ibm_emulator.faults.add("POST", r"/api/v1/jobs$", 503, times=1)
    ibm_emulator.faults.add("GET", r"/api/v1/jobs/[^/]+$", 429, times=1, retry_after=1)
    ibm_emulator.faults.add("GET", r"/results$", None, times=1, delay=0.2)  # slow answer
    job = run_bell(backend)
    assert_bell_counts(job.result()[0].data.meas.get_counts())

    assert ibm_emulator.faults.pending == []
    assert ibm_emulator.submissions == 1  # the retried POST created one job
    statuses = [(r.method, r.api_path, r.status) for r in ibm_emulator.requests if r.api_path]
    assert statuses.count(("POST", "/jobs", 503)) == 1
    assert statuses.count(("POST", "/jobs", 200)) == 1
    assert ("GET", f"/jobs/{job.job_id()}", 429) in statuses


@pytest.mark.parametrize("ibm_emulator", [FAST], indirect=True)
def test_429_on_submit_is_not_retried_and_creates_nothing(ibm_emulator: IBMRuntimeEmulator) -> None:
    from qiskit_ibm_runtime.exceptions import IBMRuntimeError

    backend = new_service().backend("ibm_fez")
    ibm_emulator.faults.add("POST", r"/api/v1/jobs$", 429, retry_after=1)
    with pytest.raises(IBMRuntimeError, match="429"):
        run_bell(backend)
    assert ibm_emulator.submissions == 0


@pytest.mark.parametrize("ibm_emulator", [FAST], indirect=True)
def test_401_raises_not_authorized(
    ibm_emulator: IBMRuntimeEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qiskit_ibm_runtime.accounts.exceptions import InvalidAccountError
    from qiskit_ibm_runtime.exceptions import IBMNotAuthorizedError

    service = new_service()
    ibm_emulator.faults.add("GET", r"/api/v1/instances/usage$", 401)
    with pytest.raises(IBMNotAuthorizedError):
        service.usage()
    job = run_bell(service.backend("ibm_fez"))
    ibm_emulator.revoke_tokens()  # the cached access token is no longer honoured
    with pytest.raises(IBMNotAuthorizedError):
        job.status()

    monkeypatch.setenv("IBM_QUANTUM_TOKEN", "wrong-key")
    with pytest.raises(InvalidAccountError):
        new_service()


# --- test-facing controls and the raw protocol ------------------------------------------------


def test_held_job_stays_queued_until_forced_or_released(ibm_emulator: IBMRuntimeEmulator) -> None:
    ibm_emulator.jobs.hold()
    service = new_service()
    backend = service.backend("ibm_fez")
    first, second = run_bell(backend), run_bell(backend)
    assert [first.status() for _ in range(4)] == ["QUEUED"] * 4
    ibm_emulator.jobs.force(first.job_id(), "Running")
    assert first.status() == "RUNNING"
    ibm_emulator.jobs.force(first.job_id(), "Completed")
    assert_bell_counts(first.result()[0].data.meas.get_counts())

    assert second.status() == "QUEUED"
    ibm_emulator.jobs.release()
    assert [second.status() for _ in range(2)] == ["RUNNING", "DONE"]
    assert [ibm_emulator.jobs[j].status for j in ibm_emulator.jobs] == ["Completed"] * 2


@pytest.mark.parametrize("ibm_emulator", [FAST], indirect=True)
def test_job_listing_pages_past_twenty(ibm_emulator: IBMRuntimeEmulator) -> None:
    from qiskit_ibm_runtime import SamplerV2

    service = new_service()
    backend = service.backend("ibm_fez")
    ibm_emulator.jobs.hold()
    circuit = bell(backend)
    sampler = SamplerV2(mode=backend, options={"environment": {"job_tags": ["qrun:many"]}})
    ids = [sampler.run([circuit], shots=10).job_id() for _ in range(22)]
    ibm_emulator.clear_requests()
    assert [j.job_id() for j in service.jobs(job_tags=["qrun:many"], limit=None)] == ids[::-1]
    pages = [r.query.get("offset", ["0"]) for r in ibm_emulator.requests if r.api_path == "/jobs"]
    assert pages == [["0"], ["20"]]


def _raw(emulator: IBMRuntimeEmulator, method: str, path: str, **headers: str) -> tuple[int, Any]:
    """One request with urllib (no client), returning status and decoded JSON body."""
    import urllib.error
    import urllib.request

    data = b"" if method in ("POST", "PUT", "PATCH") else None
    request = urllib.request.Request(emulator.url + path, data=data, method=method)
    for name, value in headers.items():
        request.add_header(name.replace("_", "-"), value)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as failure:
        return failure.code, json.loads(failure.read() or b"null")


def _token(emulator: IBMRuntimeEmulator, api_key: str) -> tuple[int, dict[str, Any]]:
    import urllib.error
    import urllib.parse
    import urllib.request

    form = urllib.parse.urlencode(
        {"grant_type": "urn:ibm:params:oauth:grant-type:apikey", "apikey": api_key}
    ).encode()
    try:
        with urllib.request.urlopen(emulator.url + "/identity/token", form, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as failure:
        return failure.code, json.loads(failure.read())


def test_raw_protocol_requires_a_bearer_token_and_the_instance_crn(
    ibm_emulator: IBMRuntimeEmulator,
) -> None:
    import base64

    assert _token(ibm_emulator, "not-the-key")[0] == 400
    status, doc = _token(ibm_emulator, ibm_emulator.token)
    assert status == 200 and doc["token_type"] == "Bearer"
    claims_part = doc["access_token"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(claims_part + "=" * (-len(claims_part) % 4)))
    assert claims["exp"] - claims["iat"] == doc["expires_in"]

    bearer = f"Bearer {doc['access_token']}"
    assert _raw(ibm_emulator, "GET", "/api/v1/backends")[0] == 401
    assert _raw(ibm_emulator, "GET", "/api/v1/backends", Authorization=bearer)[0] == 401  # no CRN
    ok = {"Authorization": bearer, "Service_CRN": ibm_emulator.crn}
    status, doc = _raw(ibm_emulator, "GET", "/api/v1/backends", **ok)
    assert status == 200
    assert sorted(d["name"] for d in doc["devices"]) == ["ibm_fez", "ibm_kingston", "ibm_marrakesh"]
    status, doc = _raw(ibm_emulator, "GET", "/api/v1/jobs/unknown", **ok)
    assert status == 404 and doc["error"]["code"] == 1291
    assert _raw(ibm_emulator, "PUT", "/api/v1/backends", **ok)[0] == 405
    assert _raw(ibm_emulator, "GET", "/api/v1/nothing-here", **ok)[0] == 404
    assert _raw(ibm_emulator, "POST", "/api/v1/jobs", **ok)[0] == 400  # empty body
    ibm_emulator.revoke_tokens()
    assert _raw(ibm_emulator, "GET", "/api/v1/backends", **ok)[0] == 401
