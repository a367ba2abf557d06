"""The calibration recorded for an IBM run is the one its job ran under: the device's
properties as of the job's start on the device, read at collection, not the ones of the
submission. Real client, emulator over HTTP with a calibration history per device."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import qiskit_ibm_runtime  # noqa: F401  (main-thread import: see tests/test_ibm_backend.py)

from runner.lock import read_lock, write_lock
from runner.schedule import format_time
from tests.ibm_emulator import IBMRuntimeEmulator
from tests.test_ibm_backend import (
    FAST,
    analysis_of,
    ghz_sweep,
    latest,
    qrun,
    request_of,
    spec_text,
    use_specs,
)

B = {"T1": 321.0, "readout_error": 0.375}  # calibration B of the run's first qubit


def submitted_under_a(
    project: Path, make_ibm_emulator: Any, capsys: pytest.CaptureFixture[str]
) -> tuple[IBMRuntimeEmulator, str, int]:
    """A bell run submitted (its job held Queued) under the shipped calibration A: the
    emulator, the job id and the run's first physical qubit."""
    emulator = make_ibm_emulator(**FAST)
    emulator.jobs.hold()
    use_specs(project, hw=spec_text("hw"))
    assert qrun(capsys, "apply").code == 0
    run = latest(project, "hw")
    assert run["status"] == "queued"
    qubit = request_of(project, run)["calibration"]["qubits"][0]["qubit"]
    return emulator, run["jobs"][0]["id"], qubit


def row_of(calibration: dict[str, Any], qubit: int) -> dict[str, Any]:
    return next(r for r in calibration["qubits"] if r["qubit"] == qubit)


def properties_requests(emulator: IBMRuntimeEmulator) -> list[Any]:
    return [r for r in emulator.requests if r.api_path == "/backends/ibm_fez/properties"]


def test_a_job_that_ran_after_a_recalibration_is_reported_with_the_new_calibration(
    project: Path, make_ibm_emulator: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator, job_id, qubit = submitted_under_a(project, make_ibm_emulator, capsys)
    a = row_of(request_of(project, latest(project, "hw"))["calibration"], qubit)
    assert (a["t1_us"], a["readout_error"]) != (B["T1"], B["readout_error"])
    emulator.backends["ibm_fez"].recalibrate({qubit: B})  # B, before the job runs
    emulator.jobs.release()
    emulator.clear_requests()
    assert qrun(capsys, "apply").code == 0

    run = latest(project, "hw")
    assert run["status"] == "completed"
    started = format_time(emulator.jobs[job_id].running)
    calibration = analysis_of(project, run)["calibration"]
    assert row_of(calibration, qubit)["t1_us"] == pytest.approx(B["T1"])
    assert row_of(calibration, qubit)["readout_error"] == pytest.approx(B["readout_error"])
    assert calibration["taken"] == "collection" and calibration["as_of"] == started
    assert run["finished"] == format_time(emulator.jobs[job_id].finished)  # the service's time
    assert row_of(request_of(project, run)["calibration"], qubit) == a  # submission kept as was
    (asked,) = properties_requests(emulator)  # one read, as of the job's start
    assert format_time(_moment(asked.query["updated_before"][0])) == started
    page = (project / "reports" / "hw.md").read_text(encoding="utf-8")
    calibration_section = page.split("### Calibration", 1)[1]
    assert f"| {qubit} | 321 | " in calibration_section and "| 0.375 |" in calibration_section
    assert "as the job ran" in calibration_section


def test_a_job_that_ran_before_a_recalibration_keeps_the_calibration_it_ran_under(
    project: Path, make_ibm_emulator: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator, job_id, qubit = submitted_under_a(project, make_ibm_emulator, capsys)
    a = row_of(request_of(project, latest(project, "hw"))["calibration"], qubit)
    emulator.jobs.force(job_id, "Completed")  # ran under A
    emulator.backends["ibm_fez"].recalibrate({qubit: B})  # newest at collection: B
    emulator.jobs.release()
    emulator.clear_requests()
    assert qrun(capsys, "apply").code == 0
    (as_of,) = properties_requests(emulator)  # one read, as of the start: it answers A
    assert format_time(_moment(as_of.query["updated_before"][0])) == format_time(
        emulator.jobs[job_id].running
    )

    run = latest(project, "hw")
    assert run["status"] == "completed"
    calibration = analysis_of(project, run)["calibration"]
    assert row_of(calibration, qubit) == a
    assert calibration["taken"] == "collection"
    assert calibration["as_of"] == format_time(emulator.jobs[job_id].running)


def test_a_batch_is_described_by_the_calibration_its_first_job_ran_under(
    project: Path,
    make_ibm_emulator: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QRUN_MAX_CIRCUITS_PER_JOB", "1")
    emulator = make_ibm_emulator(**FAST)
    emulator.jobs.hold()
    use_specs(project, hw=spec_text("hw", circuits=ghz_sweep(2, 3)))
    assert qrun(capsys, "apply").code == 0
    run = latest(project, "hw")
    first, second = (j["id"] for j in run["jobs"])
    submitted = request_of(project, run)["calibration"]
    qubit = submitted["qubits"][0]["qubit"]
    emulator.jobs.force(first, "Completed")  # the first job ran under A
    emulator.backends["ibm_fez"].recalibrate({qubit: B})  # the second runs under B
    emulator.jobs.release()
    emulator.clear_requests()
    assert qrun(capsys, "apply").code == 0

    run = latest(project, "hw")
    assert run["status"] == "completed"
    calibration = analysis_of(project, run)["calibration"]
    assert row_of(calibration, qubit) == row_of(submitted, qubit)
    assert calibration["as_of"] == format_time(emulator.jobs[first].running)
    starts = {emulator.jobs[j].running for j in (first, second)}
    assert 1 <= len(properties_requests(emulator)) <= len(starts)  # one per start at most


def test_a_failed_calibration_read_still_collects_with_the_submission_calibration(
    project: Path, make_ibm_emulator: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator, _, qubit = submitted_under_a(project, make_ibm_emulator, capsys)
    a = row_of(request_of(project, latest(project, "hw"))["calibration"], qubit)
    emulator.backends["ibm_fez"].recalibrate({qubit: B})
    emulator.faults.add("GET", r"/backends/ibm_fez/properties$", 503, times=99, retry_after=1)
    emulator.jobs.release()
    ran = qrun(capsys, "apply")
    assert ran.code == 0, ran.text
    assert "reading the calibration as the job ran failed" in ran.text  # said, not only stored

    run = latest(project, "hw")
    assert run["status"] == "completed"
    calibration = analysis_of(project, run)["calibration"]
    assert row_of(calibration, qubit) == a
    assert calibration["taken"] == "submission"
    assert "reading the calibration as the job ran failed" in calibration["note"]
    assert properties_requests(emulator)  # it was asked for, and failed
    page = (project / "reports" / "hw.md").read_text(encoding="utf-8")
    calibration_section = page.split("### Calibration", 1)[1]
    assert "taken at submission (reading the calibration as the job ran failed" in (
        calibration_section
    )


def test_the_emulator_answers_updated_before_with_the_snapshot_of_that_time(
    make_ibm_emulator: Any,
) -> None:
    from qiskit_ibm_runtime import QiskitRuntimeService

    emulator = make_ibm_emulator()
    device = QiskitRuntimeService(**emulator.service_kwargs()).backend("ibm_fez")
    a = device.properties(refresh=True)
    later = datetime.now(a.last_update_date.tzinfo) + timedelta(hours=1)
    emulator.backends["ibm_fez"].recalibrate({0: B}, at=later)
    assert device.properties(refresh=True).t1(0) == pytest.approx(B["T1"] * 1e-6)  # newest
    before = device.properties(datetime=later - timedelta(seconds=1))
    assert before.t1(0) == a.t1(0) and before.last_update_date == a.last_update_date
    assert device.properties(datetime=later).readout_error(0) == B["readout_error"]


def rewrite_analysis(project: Path, change: Any) -> None:
    """Replace the stored analysis.json of hw's run with change(doc), lock updated to match."""
    lock = read_lock(project / "specs", "hw")
    run = lock.runs[-1]
    objects = []
    for obj in run.objects:
        if obj.key.endswith("/analysis.json"):
            path = project / ".qrun/store" / obj.bucket / obj.key
            data = json.dumps(change(json.loads(path.read_bytes())), sort_keys=True).encode()
            path.write_bytes(data)
            obj = replace(obj, sha256=hashlib.sha256(data).hexdigest(), size=len(data))
        objects.append(obj)
    write_lock(project / "specs", lock.upsert(run.with_(objects=tuple(objects))))


def test_reanalysis_keeps_the_calibration_read_at_collection_with_no_service(
    project: Path, make_ibm_emulator: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator, _, qubit = submitted_under_a(project, make_ibm_emulator, capsys)
    a = row_of(request_of(project, latest(project, "hw"))["calibration"], qubit)
    emulator.backends["ibm_fez"].recalibrate({qubit: B})
    emulator.jobs.release()
    assert qrun(capsys, "apply").code == 0
    emulator.close()  # re-analysis asks the service nothing

    def older(doc: dict[str, Any]) -> dict[str, Any]:  # made by an older analysis version
        doc["circuits"][0]["fidelity"]["value"] = 0.123
        return {**doc, "analysis_version": 4}

    rewrite_analysis(project, older)
    assert qrun(capsys, "report").code == 0
    page = (project / "reports" / "hw.md").read_text(encoding="utf-8")
    assert "0.123" not in page  # re-derived
    calibration_section = page.split("### Calibration", 1)[1]
    assert f"| {qubit} | 321 | " in calibration_section and "as the job ran" in calibration_section

    def before_calibration_was_dated(doc: dict[str, Any]) -> dict[str, Any]:  # version 4
        doc["calibration"] = request_of(project, latest(project, "hw"))["calibration"]
        return {**doc, "analysis_version": 4}

    rewrite_analysis(project, before_calibration_was_dated)
    assert qrun(capsys, "report").code == 0
    page = (project / "reports" / "hw.md").read_text(encoding="utf-8")
    calibration_section = page.split("### Calibration", 1)[1]
    assert f"| {qubit} | {a['t1_us']:.4g} | " in calibration_section
    assert "taken at submission" in calibration_section


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text)
