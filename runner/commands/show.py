"""qrun show SPEC: a spec's run identity and its expanded circuits (ids, widths, depths)."""

from __future__ import annotations

import argparse
from pathlib import Path

from runner.config import Config
from runner.errors import UsageError
from runner.output import Output
from runner.spec.loader import load_spec


def _layout(layout: tuple[int, ...] | None) -> str:
    """Pinned physical qubits, or the transpiler's choice."""
    return ", ".join(map(str, layout)) if layout else "auto"


def run(args: argparse.Namespace) -> int:
    config = Config.load(args.repo)
    out = Output(args.format, quiet=args.quiet)
    path = Path(args.spec)
    if not path.suffix:
        path = config.specs_dir / f"{args.spec}.toml"
    if not path.is_file():
        raise UsageError(f"no spec {args.spec!r} (looked for {path})")
    spec = load_spec(path, config.repo_root)
    from runner.preview import preview

    previews = preview(spec)
    out.line(f"{spec.name}: run hash {spec.run_hash}")
    out.line(f"target {spec.target}, {spec.execution.primitive}, {spec.execution.shots} shots")
    layouts = {c.circuit_id: c.layout for c in spec.circuits}
    out.table(
        ["circuit", "qubits", "layout", "depth", "2q gates"],
        [
            [
                p.circuit_id,
                p.width,
                _layout(layouts.get(p.circuit_id)),
                p.transpiled.depth if p.transpiled else "—",
                p.transpiled.two_qubit_gates if p.transpiled else "—",
            ]
            for p in previews
        ],
    )
    out.envelope(
        "show",
        True,
        {
            "name": spec.name,
            "run_hash": spec.run_hash,
            "target": spec.target,
            "circuits": [
                {
                    "circuit_id": p.circuit_id,
                    "width": p.width,
                    "layout": list(layouts[p.circuit_id] or ()) or None,
                    "depth": p.transpiled.depth if p.transpiled else None,
                    "two_qubit_gates": p.transpiled.two_qubit_gates if p.transpiled else None,
                }
                for p in previews
            ],
        },
    )
    return 0
