"""qrun apply: carry out the plan — submit, collect, store, analyse, report, and commit back."""

from __future__ import annotations

import argparse

from runner.config import Config
from runner.output import Output, plural
from runner.pipeline import Status, apply
from runner.shard import Shard


def should_push(config: Config, args: argparse.Namespace) -> tuple[bool, bool]:
    """(commit, push): push under CI or with --push, commit with --commit; --no-push wins."""
    push = (args.push or config.in_ci) and not args.no_push
    commit = push or args.commit
    return commit, push


def run(args: argparse.Namespace, retry: frozenset[str] = frozenset()) -> int:
    config = Config.load(args.repo)
    out = Output(args.format, quiet=args.quiet)
    if getattr(args, "dry_run", False):
        from runner.commands import plan

        args.base, args.preview, args.detailed_exitcode, args.shards = None, False, False, None
        return plan.run(args)
    shard = Shard.parse(args.shard) if getattr(args, "shard", None) else None
    commit, push = should_push(config, args)
    if commit:
        from runner.sync import apply_and_sync

        result = apply_and_sync(config, out, args.trigger, args.only, retry, push, shard)
    else:
        result = apply(config, out, args.trigger, args.only, retry, shard=shard)
    rows = [[o.name, o.action.value, o.status.value, o.detail] for o in result.outcomes]
    if rows:
        out.table(["spec", "action", "status", "detail"], rows)
    for o in result.outcomes:
        if o.status is Status.FAILED:
            out.annotate("error", f"{o.name}: {o.detail}")
    done = sum(o.status is Status.DONE for o in result.outcomes)
    pending = sum(o.status is Status.PENDING for o in result.outcomes)
    failed = sum(o.status is Status.FAILED for o in result.outcomes)
    out.line(
        f"Applied: {done} done, {pending} pending, {failed} failed; store: "
        f"{result.uploaded} uploaded, {result.skipped} already present; "
        f"{plural(len(result.reports_changed), 'report file')} changed."
    )
    if result.reports_changed:
        out.line(f"Reports: {config.reports_dir / 'README.md'}")
    out.envelope(
        "apply",
        result.exit_code == 0,
        {
            "outcomes": [o.__dict__ for o in result.outcomes],
            "uploaded": result.uploaded,
            "skipped": result.skipped,
            "reports_changed": result.reports_changed,
            "alerts": result.alerts,
            "warnings": result.warnings,
        },
    )
    return result.exit_code
