"""How report rendering scales, as ratios measured in one process.

1. One experiment with 20 completed runs (4 circuits each), pages only (figures=False).
2. 200 such experiments (4,000 runs), pages only: the ratio to (1) should stay near 200,
   i.e. rendering is linear in the number of experiments (no quadratic dashboard work).
3. One experiment with figures (trend + 4 histograms + 1 sweep figure): the matplotlib cost
   per experiment. Rendering 200 experiments with figures is not run by default (it is
   about 200 x (3), minutes of matplotlib); pass --figures to run it anyway.

Analysis documents are built by hand (no bootstrap), so only rendering is timed.
Run: python benchmarks/reports.py [--figures]
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runner.lock import JobRecord, Lock, RunRecord, RunStatus
from runner.reports.render import ExperimentView, ReportContext, render_reports
from runner.spec.loader import load_spec
from runner.spec.model import Spec

EXPERIMENTS = 200
RUNS = 20
SPEC = """
name = "{name}"
description = "Benchmark experiment {name}"
tags = ["{tag}"]
[backend]
target = "local:fake_fez"
[execution]
schedule = "daily"
[[circuits]]
name = "bell"
template = "bell"
[[circuits]]
name = "ghz"
template = "ghz"
sweep = {{ num_qubits = [3, 4, 5] }}
"""


def metric(name: str, value: float) -> dict[str, Any]:
    return {"name": name, "value": value, "low": value - 0.01, "high": value + 0.01,
            "stderr": 0.005, "ideal": 1.0, "unit": "", "description": "",
            "higher_is_better": True}  # fmt: skip


def analysis(spec: Spec, run_id: str, fid: float) -> dict[str, Any]:
    circuits = []
    for c in spec.circuits:
        n = c.width
        probs = {"0" * n: fid / 2, "1" * n: fid / 2, "0" * (n - 1) + "1": 1 - fid}
        circuits.append({
            "circuit_id": c.circuit_id, "template": c.template, "params": c.params,
            "shots": 4096, "counts": {k: round(v * 4096) for k, v in probs.items()},
            "probabilities": probs, "ideal_probabilities": {"0" * n: 0.5, "1" * n: 0.5},
            "fidelity": metric("hellinger_fidelity", fid), "fidelity_note": None,
            "metrics": {"parity": metric("parity", fid)}, "observables": [],
        })  # fmt: skip
    return {
        "name": spec.name, "run_id": run_id, "shots": 4096, "circuits": circuits,
        "headline": metric("mean_hellinger_fidelity", fid), "calibration": {},
        "transpiled": {c.circuit_id: {"depth": 5, "two_qubit_gates": c.width - 1,
                                      "physical_qubits": list(range(c.width))}
                       for c in spec.circuits},
    }  # fmt: skip


def view(root: Path, index: int) -> ExperimentView:
    name = f"exp-{index:03d}"
    path = root / "specs" / f"{name}.toml"
    path.write_text(SPEC.format(name=name, tag=f"group-{index % 7}"), encoding="utf-8")
    spec = load_spec(path, root)
    runs, docs = [], {}
    for r in range(1, RUNS + 1):
        run_id = f"{r:04d}-{spec.run_hash[:8]}"
        day = f"2025-{1 + r // 28:02d}-{1 + r % 28:02d}"
        runs.append(RunRecord(
            id=run_id, run_hash=spec.run_hash, trigger="schedule", target=spec.target,
            status=RunStatus.COMPLETED, created=f"{day}T06:00:00+00:00",
            updated=f"{day}T06:05:00+00:00", backend="fake_fez",
            finished=f"{day}T06:04:00+00:00", qpu_seconds=2.0,
            jobs=(JobRecord(f"job-{name}-{r}", ("bell",), "done"),),
        ))  # fmt: skip
        docs[run_id] = analysis(spec, run_id, 0.9 + 0.002 * ((index + r) % 10))
    return ExperimentView(name, spec, Lock(name, tuple(runs)), docs, f"specs/{name}.toml")


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> None:
    ctx = ReportContext("bench", "2025-02-01T00:00:00+00:00", 600.0, 120.0, {})
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "specs").mkdir()
        views = [view(root, i) for i in range(EXPERIMENTS)]
    render_reports(views[:1], ctx, figures=True)  # warm up imports (jinja2, matplotlib)
    one = min(timed(lambda: render_reports(views[:1], ctx, figures=False)) for _ in range(20))
    many = min(timed(lambda: render_reports(views, ctx, figures=False)) for _ in range(3))
    with_figures = min(timed(lambda: render_reports(views[:1], ctx)) for _ in range(3))
    print(f"1 experiment x {RUNS} runs, no figures:   {one * 1000:8.1f} ms")
    print(f"{EXPERIMENTS} experiments x {RUNS} runs, no figures: {many * 1000:8.1f} ms")
    print(f"ratio {many / one:.0f} for {EXPERIMENTS}x the experiments "
          f"(linear = {EXPERIMENTS}; {many / one / EXPERIMENTS:.2f}x linear)")  # fmt: skip
    print(f"1 experiment with figures:              {with_figures * 1000:8.1f} ms "
          f"(~{with_figures * EXPERIMENTS:.0f} s estimated for {EXPERIMENTS})")  # fmt: skip
    if "--figures" in sys.argv:
        full = timed(lambda: render_reports(views, ctx))
        print(f"{EXPERIMENTS} experiments with figures: {full:8.1f} s")


if __name__ == "__main__":
    main()
