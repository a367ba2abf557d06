"""qrun cancel NAME: cancel a spec's pending jobs on the service and record it in the lock."""

from __future__ import annotations

import argparse
from dataclasses import replace

from runner.config import Config
from runner.errors import UsageError
from runner.lock import RunStatus, read_lock, write_lock
from runner.output import Output, plural
from runner.pipeline import backend_factory, clock
from runner.schedule import format_time


def run(args: argparse.Namespace) -> int:
    config = Config.load(args.repo)
    out = Output("text", quiet=args.quiet)
    lock = read_lock(config.specs_dir, args.name)
    pending = [r for r in lock.runs if r.status.pending]
    if not lock.runs:
        raise UsageError(f"no runs recorded for '{args.name}' (no specs/{args.name}.lock.toml)")
    if not pending:
        out.line(f"{args.name}: nothing pending to cancel")
        return 0
    backend_for = backend_factory(config)
    stamp = format_time(clock(config))
    for run_record in pending:
        ids = [j.id for j in run_record.jobs if j.status in ("queued", "running")]
        backend = backend_for(run_record.target)
        finished = set(backend.cancel(ids)) if ids else set()
        if ids and finished == set(ids):
            out.line(
                f"{args.name}: run {run_record.id} had already finished on the service; "
                "`qrun apply` collects it"
            )
            continue
        cancelled = [i for i in ids if i not in finished]
        # part of a batch had finished: record how, since the cancelled run is never collected
        ended = (
            {o.job_id: o.status.value for o in backend.collect(sorted(finished))}
            if finished
            else {}
        )
        jobs = tuple(
            replace(j, status="cancelled", reason="cancelled by qrun cancel")
            if j.id in cancelled
            else replace(j, status=ended.get(j.id, j.status))
            for j in run_record.jobs
        )
        lock = lock.upsert(
            run_record.with_(
                status=RunStatus.CANCELLED,
                jobs=jobs,
                updated=stamp,
                finished=stamp,
                error="cancelled by `qrun cancel`",
            )
        )
        out.line(f"{args.name}: cancelled run {run_record.id} ({plural(len(cancelled), 'job')})")
    write_lock(config.specs_dir, lock)
    return 0
