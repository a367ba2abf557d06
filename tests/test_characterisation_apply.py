"""Characterisation specs end to end: `qrun validate/apply` on a fake device with the page's
fit figure, and submission and analysis in different processes (IBM emulator)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from runner.backends.local import load_properties
from tests.test_ibm_backend import (
    analysis_of,
    latest,
    qrun,
    qrun_subprocess,
    spec_text,
    use_specs,
)

T1_SPEC = """name = "t1-q0"

[backend]
target = "local:fake_manila"

[execution]
shots = 1000

[[circuits]]
name = "t1-q0"
template = "t1"
layout = [0]
sweep = { delay_us = [0, 15, 30, 60, 90, 120, 180, 240, 320, 400] }
"""


def test_t1_spec_validates_applies_and_its_page_shows_the_fit_beside_the_device(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    use_specs(project, **{"t1-q0": T1_SPEC})
    assert qrun(capsys, "validate").code == 0
    shown = qrun(capsys, "show", "t1-q0")
    assert "layout" in shown.out and "t1-q0[delay_us=400]" in shown.out
    assert qrun(capsys, "apply").code == 0
    run = latest(project, "t1-q0")
    assert run["status"] == "completed"
    assert {tuple(t["physical_qubits"]) for t in run["transpiled"].values()} == {(0,)}
    (entry,) = analysis_of(project, run)["entries"]
    (t1,) = entry["metrics"]
    device_t1 = load_properties("local:fake_manila").t1(0) * 1e6
    page = (project / "reports" / "t1-q0.md").read_text(encoding="utf-8")
    (row,) = [line for line in page.splitlines() if line.startswith("| t1-q0 | T1 (`t1_us`) |")]
    assert f"{device_t1:.4g}" in row and ("| no |" in row or "| yes |" in row)
    assert "Pinned physical qubits | t1-q0 → 0" in page
    figure = next(line for line in page.splitlines() if "t1 fit of t1-q0" in line)
    path = project / "reports" / figure.split("](", 1)[1].rstrip(")")
    svg = path.read_text(encoding="utf-8")
    assert "T1 = " in svg and "t1_us" not in svg and "delay (µs)" in svg
    assert abs(t1["value"] - device_t1) < 0.15 * device_t1


def test_a_fitted_spec_is_headlined_by_its_fit_not_the_mean_fidelity(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from runner.reports.markdown import metric

    use_specs(project, **{"t1-q0": T1_SPEC})
    assert qrun(capsys, "apply").code == 0
    run = latest(project, "t1-q0")
    (entry,) = analysis_of(project, run)["entries"]
    (t1,) = entry["metrics"]
    lead = f"T1 (t1-q0) {metric(t1)}"
    assert metric(t1).endswith("] µs")  # the interval and the unit
    dashboard = (project / "reports" / "README.md").read_text(encoding="utf-8")
    (row,) = [
        line for line in dashboard.splitlines() if line.startswith("| ✅ completed | [t1-q0]")
    ]
    assert f"| {lead} |" in row and "Mean fidelity" not in row
    page = (project / "reports" / "t1-q0.md").read_text(encoding="utf-8")
    assert f"| Headline | {lead} |" in page  # the latest run's lead, and in the history table
    assert (
        sum(lead in line for line in page.splitlines() if line.startswith(f"| {run['id']} ")) == 1
    )
    assert "Mean fidelity" not in page
    # the lock keeps it too, for `qrun status` and the pull-request comment
    assert run["headline"]["name"] == "t1_us" and run["headline"]["unit"] == "µs"
    assert run["headline"]["low"] < run["headline"]["value"] < run["headline"]["high"]
    status = qrun(capsys, "status").out
    assert any(line.startswith("t1-q0 ") and "T1 (t1-q0)" in line for line in status.splitlines())


READOUT_GHZ = """
[[circuits]]
name = "ro"
template = "readout"
layout = [5, 6]
sweep = { state = ["00", "01", "10", "11"] }

[[circuits]]
name = "ghz"
template = "ghz_parity"
layout = [0, 1, 2]
sweep = { num_qubits = [3], phase_index = [0, 1, 2, 3, 4, 5, 6, 7, 8] }
"""


def test_submission_and_analysis_in_different_processes(
    project: Path, make_ibm_emulator: Any
) -> None:
    emulator = make_ibm_emulator(running_polls=0)  # queued for one poll: the first only submits
    use_specs(project, hw=spec_text("hw", circuits=READOUT_GHZ, shots=200))
    first = qrun_subprocess(project, "apply")
    assert first.code == 0, first.text
    assert latest(project, "hw")["status"] in ("queued", "running")
    second = qrun_subprocess(project, "apply")
    assert second.code == 0, second.text
    run = latest(project, "hw")
    assert run["status"] == "completed" and emulator.submissions == 1
    assert tuple(run["transpiled"]["ro[state=01]"]["physical_qubits"]) == (5, 6)
    entries = {e["entry"]: e for e in analysis_of(project, run)["entries"]}
    ghz = next(m for m in entries["ghz"]["metrics"] if m["name"] == "ghz_fidelity[n=3]")
    assert ghz["low"] <= 1.0 <= ghz["high"] + 1e-9  # the emulator runs noiselessly
    assert all(m["value"] == 0 for m in entries["ro"]["metrics"])
    doc = json.dumps(entries, sort_keys=True)
    assert "readout_error[q5]" in doc and "readout_error[q6]" in doc
