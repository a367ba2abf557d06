"""Run-to-run metric deltas: the pure comparison and `qrun diff` on real runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner.analysis.compare import MetricDelta, metric_diff
from runner.cli import main


def doc(value: float, low: float, high: float, extra: dict | None = None) -> dict:
    metric = {"name": "fid", "value": value, "low": low, "high": high, "higher_is_better": True}
    return {
        "headline": metric,
        "circuits": [{"circuit_id": "c", "fidelity": metric, "metrics": extra or {}}],
    }


@pytest.mark.parametrize(
    ("old", "new", "verdict"),
    [
        (doc(0.90, 0.89, 0.91), doc(0.95, 0.94, 0.96), "better"),
        (doc(0.95, 0.94, 0.96), doc(0.80, 0.79, 0.81), "worse"),
        (doc(0.90, 0.80, 1.00), doc(0.91, 0.81, 1.00), "within noise"),
    ],
)
def test_verdict_follows_direction_and_noise(old: dict, new: dict, verdict: str) -> None:
    rows = metric_diff(old, new)
    assert rows[0].circuit_id == "(run)"
    assert {r.verdict for r in rows} == {verdict}


def test_metrics_present_on_one_side_only() -> None:
    extra = {"parity": {"name": "parity", "value": 0.5, "higher_is_better": None}}
    rows = {
        (r.circuit_id, r.metric): r
        for r in metric_diff(doc(0.9, 0.9, 0.9), doc(0.9, 0.9, 0.9, extra))
    }
    assert rows[("c", "parity")].verdict == "new"
    gone = {
        (r.circuit_id, r.metric): r
        for r in metric_diff(doc(0.9, 0.9, 0.9, extra), doc(0.9, 0.9, 0.9))
    }
    assert gone[("c", "parity")].verdict == "gone"
    assert MetricDelta("c", "m", 1.0, None, True).change is None


def test_qrun_diff_compares_the_last_two_runs(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["apply", "--only", "bell"]) == 0
    spec = project / "specs" / "bell.toml"
    spec.write_text(spec.read_text().replace("shots = 4096", "shots = 2048"))
    assert main(["apply", "--only", "bell"]) == 0
    capsys.readouterr()
    assert main(["diff", "bell", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)["data"]
    assert data["old"].startswith("0001-") and data["new"].startswith("0002-")
    fidelity = next(r for r in data["rows"] if r["metric"] == "hellinger_fidelity")
    assert fidelity["change"] == pytest.approx(fidelity["new"] - fidelity["old"])
    page = (project / "reports" / "bell.md").read_text()
    assert f"## Change since run {data['old']}" in page
    assert main(["diff", "bell", "0001-nope", data["new"]]) == 2
    assert "unknown run" in capsys.readouterr().err
