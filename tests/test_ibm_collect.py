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


def test_runs_that_ran_under_one_calibration_read_it_twice_in_all(
    project: Path,
    make_ibm_emulator: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Four runs finishing in one pass under one calibration: a read as of the first start,
    one as of now that answers the same snapshot, and the starts between need none. Each
    run records the calibration as of its own start."""
    from runner.schedule import format_time
    from tests.test_ibm_backend import analysis_of

    names = ("a", "b", "c", "d")
    monkeypatch.setenv("QRUN_MAX_PENDING_JOBS", "10")
    emulator = make_ibm_emulator(**FAST)
    emulator.jobs.hold()
    use_specs(project, **{name: spec_text(name) for name in names})
    assert qrun(capsys, "apply").code == 0
    emulator.jobs.release()
    finishing = collect_pass(emulator, capsys)
    assert finishing.count("GET /backends/ibm_fez/properties") == 2
    assert finishing.count("GET /jobs/{id}") == len(names)
    for name in names:
        run = latest(project, name)
        calibration = analysis_of(project, run)["calibration"]
        job = emulator.jobs[run["jobs"][0]["id"]]
        assert calibration["taken"] == "collection"
        assert calibration["as_of"] == format_time(job.running)


def test_a_calibration_published_during_a_pass_is_the_one_of_later_starts(
    make_ibm_emulator: Any,
) -> None:
    """The readings of a pass bound the spans they know: a start after the last of them is
    read again, and gets a calibration published after that reading."""
    from datetime import UTC, datetime, timedelta

    from runner.backends.ibm_client import IbmSettings, service_for
    from runner.backends.ibm_collect import CalibrationHistory

    emulator = make_ibm_emulator(**FAST)
    settings = IbmSettings(emulator.client_env())
    device = service_for(settings).backend("ibm_fez")
    history = CalibrationHistory(settings)
    now = datetime.now(UTC)
    emulator.clear_requests()
    first = history.as_of(device, now - timedelta(minutes=10))
    assert history.as_of(device, now - timedelta(minutes=5)) is first  # spanned by "now"
    assert history.as_of(device, now - timedelta(minutes=10)) is first
    snapshot = emulator.backends["ibm_fez"].recalibrate({0: {"T1": 321.0}})  # published now
    later = datetime.fromisoformat(snapshot["last_update_date"]) + timedelta(seconds=1)
    t1_us = history.as_of(device, later).t1(0) * 1e6
    assert t1_us == pytest.approx(321.0)
    reads = [r for r in emulator.requests if r.api_path == "/backends/ibm_fez/properties"]
    assert len(reads) == 3  # the first start, now, the start after the new calibration


def test_finished_jobs_of_a_retired_device_cost_no_request(
    project: Path,
    make_ibm_emulator: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Finished jobs are listed for the run's device only: jobs of a device retired since
    are not decoded (the client would ask for its configuration once per job)."""
    for name, value in (("QRUN_MAX_CIRCUITS_PER_JOB", "1"), ("QRUN_MAX_PENDING_JOBS", "20"),
                        ("QRUN_SUBMISSIONS_PER_MINUTE", "100")):  # fmt: skip
        monkeypatch.setenv(name, value)
    emulator = make_ibm_emulator(**FAST)
    old = spec_text("old", target="ibm_kingston", circuits=QV.format(seeds=list(range(4))))
    use_specs(project, old=old)
    assert qrun(capsys, "apply").code == 0
    while latest(project, "old")["status"] != "completed":
        assert qrun(capsys, "apply").code == 0
    emulator.retire("ibm_kingston")
    emulator.jobs.hold()
    use_specs(project, hw=spec_text("hw"))
    assert qrun(capsys, "apply").code == 0
    emulator.jobs.release()
    finishing = collect_pass(emulator, capsys)
    assert latest(project, "hw")["status"] == "completed"
    assert "GET /backends/ibm_kingston/configuration" not in finishing
