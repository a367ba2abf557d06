"""qrun retry NAME: re-submit a spec whose last run failed (never automatic: failed QPU time is charged)."""

from __future__ import annotations

import argparse

from runner.commands import apply
from runner.config import Config
from runner.errors import QrunError
from runner.lock import RunRecord, RunStatus, read_lock

RETRYABLE = (RunStatus.FAILED, RunStatus.CANCELLED)


def latest_per_target(runs: list[RunRecord]) -> dict[str, RunRecord]:
    """The last run on each target (a multi-target spec retries each target on its own)."""
    found: dict[str, RunRecord] = {}
    for run in runs:
        found[run.target] = run
    return found


def check_retryable(config: Config, name: str) -> None:
    """Refuse, with the reason, when no target's last run failed or was cancelled."""
    latest = latest_per_target(list(read_lock(config.specs_dir, name).runs))
    if any(r.status in RETRYABLE for r in latest.values()):
        return
    if not latest:
        raise QrunError(f"{name} has no runs: nothing to retry (`qrun apply` runs it)")
    states = ", ".join(f"run {r.id} {r.status.value}" for r in latest.values())
    hint = (
        "`qrun apply` collects it"
        if any(r.status.pending for r in latest.values())
        else "change the spec to run it again"
    )
    raise QrunError(f"nothing to retry: the last run of {name} did not fail ({states}); {hint}")


def run(args: argparse.Namespace) -> int:
    check_retryable(Config.load(args.repo), args.name)
    args.only, args.trigger, args.format = [args.name], "manual", "text"
    args.dry_run, args.commit, args.push, args.no_push = False, False, False, False
    return apply.run(args, retry=frozenset({args.name}))
