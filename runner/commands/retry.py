"""qrun retry NAME: re-submit a spec whose last run failed (never automatic: failed QPU time is charged)."""

from __future__ import annotations

import argparse

from runner.commands import apply


def run(args: argparse.Namespace) -> int:
    args.only, args.trigger, args.format = [args.name], "manual", "text"
    args.dry_run, args.commit, args.push, args.no_push = False, False, False, False
    return apply.run(args, retry=frozenset({args.name}))
