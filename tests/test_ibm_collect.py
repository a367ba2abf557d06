"""Collection costs O(1) in pending jobs: one listing of the instance's pending qrun-tagged
jobs per pass, no request per pending job. Real client, emulator over HTTP."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import qiskit_ibm_runtime  # noqa: F401  (main-thread import: see tests/test_ibm_backend.py)

from tests.ibm_emulator import IBMRuntimeEmulator
from tests.test_ibm_backend import FAST, latest, qrun, spec_text, use_specs

JOB_ID = re.compile(r"/jobs/\w+")
QV = (
    '[[circuits]]\nname = "qv"\ntemplate = "quantum_volume"\n'
    "params = {{ width = 2, depth = 1 }}\nsweep = {{ seed = {seeds} }}\n"
)


def collect_pass(emulator: IBMRuntimeEmulator, capsys: pytest.CaptureFixture[str]) -> list[str]:
    """The Runtime API requests of one apply that only collects."""
    emulator.clear_requests()
    assert qrun(capsys, "apply").code == 0
    return [m + " " + JOB_ID.sub("/jobs/{id}", p) for m, p in emulator.api_requests()]


@pytest.mark.parametrize("pending", [1, 4])
def test_a_collect_pass_costs_the_same_for_any_number_of_pending_jobs(
    project: Path,
    make_ibm_emulator: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    pending: int,
) -> None:
    for name, value in (("QRUN_MAX_CIRCUITS_PER_JOB", "1"), ("QRUN_MAX_PENDING_JOBS", "10"),
                        ("QRUN_SUBMISSIONS_PER_MINUTE", "10")):  # fmt: skip
        monkeypatch.setenv(name, value)
    emulator = make_ibm_emulator(**FAST)
    emulator.jobs.hold()
    use_specs(project, hw=spec_text("hw", circuits=QV.format(seeds=list(range(pending)))))
    assert qrun(capsys, "apply").code == 0
    assert emulator.submissions == pending
    requests = collect_pass(emulator, capsys)
    assert requests.count("GET /jobs") == 1  # one listing of the pending jobs
    assert not any(r.startswith("GET /jobs/{id}") for r in requests)  # nothing per pending job
    assert len(requests) == 4  # listing, backends, configuration, status: same for any count
    assert latest(project, "hw")["status"] == "queued"

    emulator.jobs.release()
    finishing = collect_pass(emulator, capsys)
    assert finishing.count("GET /jobs") == 2  # the pending listing, a page of finished jobs
    per_job = Counter(r for r in finishing if r.startswith("GET /jobs/{id}"))
    assert per_job == {"GET /jobs/{id}": pending,  # its final state: once, not twice
                       "GET /jobs/{id}/results": pending, "GET /jobs/{id}/metrics": pending}  # fmt: skip
    assert finishing.count("GET /backends/ibm_fez/properties") == 1  # the run's first job's
    assert latest(project, "hw")["status"] == "completed"


def test_a_batch_fetches_each_jobs_results_once_when_the_run_completes(
    project: Path,
    make_ibm_emulator: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A job that finished while another of its run waits is recorded (state, QPU seconds),
    and its results are fetched once, in the pass that completes the run."""
    monkeypatch.setenv("QRUN_MAX_CIRCUITS_PER_JOB", "1")
    emulator = make_ibm_emulator(**FAST)
    emulator.jobs.hold()
    use_specs(project, hw=spec_text("hw", circuits=QV.format(seeds=[0, 1])))
    assert qrun(capsys, "apply").code == 0
    first, second = (j["id"] for j in latest(project, "hw")["jobs"])
    emulator.jobs.release(first)
    waiting = collect_pass(emulator, capsys)
    run = latest(project, "hw")
    assert run["status"] == "queued" and run["jobs"][0]["status"] == "completed"
    assert run["jobs"][0]["quantum_seconds"] is not None  # its cost is recorded already
    emulator.jobs.release(second)
    completing = collect_pass(emulator, capsys)
    assert latest(project, "hw")["status"] == "completed"
    fetched = [r for r in waiting + completing if r == "GET /jobs/{id}/results"]
    assert len(fetched) == 2  # each job's results once


def test_runs_that_ran_under_one_calibration_read_it_once(
    project: Path, make_ibm_emulator: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Three runs finishing in one pass, all started after the device's last calibration:
    one read of its calibration, not one per run; each run records it as of its own start."""
    from runner.schedule import format_time
    from tests.test_ibm_backend import analysis_of

    emulator = make_ibm_emulator(**FAST)
    emulator.jobs.hold()
    use_specs(project, **{name: spec_text(name) for name in ("a", "b", "c")})
    assert qrun(capsys, "apply").code == 0
    emulator.jobs.release()
    finishing = collect_pass(emulator, capsys)
    assert finishing.count("GET /backends/ibm_fez/properties") == 1
    assert finishing.count("GET /jobs/{id}") == 3
    for name in ("a", "b", "c"):
        run = latest(project, name)
        calibration = analysis_of(project, run)["calibration"]
        job = emulator.jobs[run["jobs"][0]["id"]]
        assert calibration["taken"] == "collection"
        assert calibration["as_of"] == format_time(job.running)


def test_a_run_shows_how_long_it_queued_and_ran_by_the_services_timestamps(
    project: Path, make_ibm_emulator: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Durations come from IBM's created, running and finished times, not qrun's clock."""
    from datetime import timedelta

    from runner.schedule import format_time
    from tests.test_ibm_backend import analysis_of

    emulator = make_ibm_emulator(**FAST)
    emulator.jobs.hold()
    use_specs(project, hw=spec_text("hw"))
    assert qrun(capsys, "apply").code == 0
    job_id = latest(project, "hw")["jobs"][0]["id"]
    job = emulator.jobs[job_id]
    job.created -= timedelta(minutes=5, seconds=7)  # it waited in IBM's queue
    emulator.jobs.release()
    assert qrun(capsys, "apply").code == 0

    run = latest(project, "hw")
    timing = analysis_of(project, run)["device_timing"]
    assert timing == {"created": format_time(job.created), "running": format_time(job.running),
                      "finished": format_time(job.finished)}  # fmt: skip
    page = (project / "reports" / "hw.md").read_text(encoding="utf-8")
    assert "On the device, by the service's timestamps:" in page
    assert "queued 5m 0" in page and ", ran " in page
