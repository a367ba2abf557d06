"""Generate many small, valid specs for the speed benchmarks."""

from __future__ import annotations

from pathlib import Path

TEMPLATE = """#:schema ../schemas/experiment.schema.json
name = "{name}"
description = "generated benchmark spec {i}"
tags = ["bench"]

[backend]
target = "local:aer"

[execution]
shots = {shots}

[[circuits]]
name = "ghz"
template = "ghz"
sweep = {{ num_qubits = [2, 3, 4] }}

[[circuits]]
name = "bell"
template = "bell"
"""


def write_specs(root: Path, count: int) -> list[Path]:
    """count specs under root/specs, returning their paths."""
    specs = root / "specs"
    specs.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = specs / f"bench-{i:04d}.toml"
        path.write_text(TEMPLATE.format(name=path.stem, i=i, shots=1000 + i), encoding="utf-8")
        paths.append(path)
    return paths


def completed_run(spec: object, **extra: object) -> object:
    """A completed run record of the spec's current revision, as a steady state has."""
    from runner.lock import RunRecord, RunStatus

    stamp = "2026-11-01T00:00:00Z"
    fields = {
        "id": f"0001-{spec.run_hash[:8]}",  # type: ignore[attr-defined]
        "run_hash": spec.run_hash,  # type: ignore[attr-defined]
        "trigger": "merge",
        "target": spec.target,  # type: ignore[attr-defined]
        "status": RunStatus.COMPLETED,
        "created": stamp,
        "updated": stamp,
        "finished": stamp,
        "shots": spec.execution.shots,  # type: ignore[attr-defined]
    }
    return RunRecord(**{**fields, **extra})  # type: ignore[arg-type]
