"""qrun templates: the circuit library, with each template's parameters."""

from __future__ import annotations

import argparse

from runner.output import Output
from runner.templates.registry import TEMPLATES


def _param(name: str, schema: dict) -> str:
    kind = schema.get("type", "any")
    default = f" = {schema['default']!r}" if "default" in schema else ""
    return f"{name}: {kind}{default}"


def run(args: argparse.Namespace) -> int:
    out = Output(args.format, quiet=args.quiet)
    rows = []
    for template in TEMPLATES.values():
        props = template.params_schema.get("properties", {})
        rows.append(
            [
                template.name,
                template.description,
                ", ".join(_param(k, v) for k, v in props.items()) or "—",
                template.analysis or "—",
            ]
        )
    out.table(["template", "description", "parameters", "run-level analysis"], rows)
    out.envelope(
        "templates",
        True,
        {
            t.name: {
                "description": t.description,
                "params_schema": t.params_schema,
                "analysis": t.analysis,
            }
            for t in TEMPLATES.values()
        },
    )
    return 0
