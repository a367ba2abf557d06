"""qrun report: re-render reports/ from locks and stored results (no submission, no polling)."""

from __future__ import annotations

import argparse

from runner.config import Config
from runner.output import Output, plural
from runner.reports.build import build_reports


def run(args: argparse.Namespace) -> int:
    config = Config.load(args.repo)
    out = Output("text", quiet=args.quiet)
    result = build_reports(config)
    changed = result.changed
    for name, message in result.alerts:
        out.line(f"drift alert: {name}: {message}")
    out.line(
        f"{plural(len(changed), 'report file')} changed"
        + (f": {', '.join(changed[:10])}" if changed else "")
    )
    return 0
