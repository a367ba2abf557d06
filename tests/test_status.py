"""`qrun status`: every experiment, pending jobs with live states and queue length from the
IBM emulator (over HTTP, unmodified client), recent results, budget; offline and --watch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.test_ibm_backend import FAST, latest, qrun, spec_text, use_specs

BROKEN = 'name = "broken"\n[backend]\ntarget = "local:aer"\n[execution]\nshots = -5\n'


def envelope(text: str) -> dict[str, Any]:
    doc = json.loads(text)
    assert doc["command"] == "status" and doc["version"] == 1
    return doc["data"]


def test_status_lists_every_experiment_results_and_budget(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / ".env").write_text("QRUN_QPU_SECONDS_BUDGET=1234\n")
    assert qrun(capsys, "apply", "--only", "bell").code == 0
    (project / "specs/broken.toml").write_text(BROKEN)
    ran = qrun(capsys, "status")
    assert ran.code == 0
    lines = ran.out.splitlines()
    names = [p.stem for p in (project / "specs").glob("*.toml") if ".lock" not in p.name]
    assert "broken" in names and "qft4" in names
    for name in names:
        assert any(line.startswith(f"{name} ") for line in lines), name
    assert f"Experiments ({len(names)})" in ran.out and "No pending jobs." in ran.out
    assert any(line.startswith("broken ") and "invalid: specs/broken.toml:" in line
               for line in lines)  # fmt: skip
    (recent,) = [line for line in lines if line.startswith("bell ") and "Mean fidelity" in line]
    assert "fake_fez" in recent and "[0.9" in recent  # value [95% interval]
    assert "0 s used, 1234 s left of 1234 s" in ran.out
    data = envelope(qrun(capsys, "status", "--format", "json").out)
    assert [e["name"] for e in data["experiments"]] == sorted(names)
    assert [e["status"] for e in data["experiments"]][:2] == ["completed", "invalid"]
    assert data["recent"][0]["headline"]["name"] == "mean_hellinger_fidelity"
    assert data["budget"] == {"used_seconds": 0.0, "budget_seconds": 1234.0,
                              "left_seconds": 1234.0}  # fmt: skip


def test_status_asks_the_service_for_live_states_and_queue_length(
    project: Path, make_ibm_emulator: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    emu = make_ibm_emulator(**FAST)
    emu.jobs.hold()
    use_specs(project, hw=spec_text("hw"))
    assert qrun(capsys, "apply").code == 0
    job = latest(project, "hw")["jobs"][0]["id"]
    data = envelope(qrun(capsys, "status", "--format", "json").out)
    (pending,) = data["pending"]
    assert pending["job_id"] == job and pending["live"] == "queued" and data["live"]
    assert pending["queue_length"] == 1 and pending["backend"] == "ibm_fez"
    offline = qrun(capsys, "status", "--offline")
    assert "queued (recorded)" in offline.out
    assert "offline: showing the recorded job states" in offline.out
    before = len(emu.api_requests())
    qrun(capsys, "status", "--offline")
    assert len(emu.api_requests()) == before  # offline means offline
    emu.jobs.release()
    text = qrun(capsys, "status").out
    assert "completed" in text and "not yet collected: hw" in text
    assert latest(project, "hw")["status"] == "queued"  # status records nothing


def test_watch_refreshes_until_the_pending_jobs_finish(
    project: Path, make_ibm_emulator: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    make_ibm_emulator(queued_polls=6, running_polls=2)
    use_specs(project, hw=spec_text("hw"))
    assert qrun(capsys, "apply").code == 0
    ran = qrun(capsys, "status", "--watch", "--interval", "0")
    assert ran.code == 0
    snapshots = ran.out.split("Refreshing in")
    assert len(snapshots) >= 3  # refreshed while the job was queued, then running
    assert all("not yet collected" not in shot for shot in snapshots[:-1])
    assert "| queued" not in snapshots[-1] and "not yet collected: hw" in snapshots[-1]
    # one listing of pending jobs per pass (O(1) collect) reports them pending, not which state
    assert all(" queued " in shot or " running " in shot for shot in snapshots[:-1])
    assert ran.out.count("Experiments (1)") == len(snapshots)


def test_status_without_credentials_says_it_shows_the_recorded_state(
    project: Path, make_ibm_emulator: Any, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    emu = make_ibm_emulator(**FAST)
    emu.jobs.hold()
    use_specs(project, hw=spec_text("hw"))
    assert qrun(capsys, "apply").code == 0
    monkeypatch.delenv("IBM_QUANTUM_TOKEN")
    text = qrun(capsys, "status").out
    assert "no IBM_QUANTUM_TOKEN: showing the recorded job states" in text
    assert "queued (recorded)" in text
