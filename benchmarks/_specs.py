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
