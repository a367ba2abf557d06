"""qrun status: the terminal dashboard — experiments, pending runs with their live job states
and the backend's queue length, recent results, and the QPU budget.

Read-only: it records nothing (apply does). Live states are asked of the IBM service with a
time limit; offline, without credentials, or when the service does not answer in time, it
says that it shows the states recorded in the lock files.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from runner.budget import qpu_seconds_used
from runner.config import Config
from runner.errors import BackendError
from runner.inputs import Inputs, load_inputs
from runner.lock import Lock, RunRecord, RunStatus
from runner.output import Output, plural
from runner.pipeline import backend_factory, clock
from runner.reports.markdown import duration, metric, metric_label

RECENT_RESULTS = 10
LIVE_TIMEOUT_SECONDS = 20.0
WATCH_MAX_INTERVAL = 60.0
FINAL = {"completed", "failed", "cancelled"}


def _experiments(inputs: Inputs) -> list[dict[str, Any]]:
    """Every spec, valid or not, with its latest run."""
    rows = []
    for spec in inputs.specs:
        latest = inputs.locks.get(spec.name, Lock(spec.name)).latest
        rows.append({"name": spec.name, "status": latest.status.value if latest else "not run",
                     "target": spec.target, "last_run": latest.id if latest else None,
                     "tags": list(spec.tags)})  # fmt: skip
    for name, problem in inputs.invalid.items():
        latest = inputs.locks.get(name, Lock(name)).latest
        rows.append({"name": name, "status": "invalid", "target": None,
                     "last_run": latest.id if latest else None, "tags": [],
                     "problem": problem})  # fmt: skip
    return sorted(rows, key=lambda r: r["name"])


def _recent(locks: dict[str, Lock]) -> list[dict[str, Any]]:
    """The newest completed runs across experiments, with headline and duration."""
    done = [(r.finished or r.updated, name, r) for name, lock in locks.items() for r in lock.runs
            if r.status is RunStatus.COMPLETED]  # fmt: skip
    rows = []
    for _, name, run in sorted(done, key=lambda t: (t[0], t[1]), reverse=True)[:RECENT_RESULTS]:
        head = run.headline if run.headline and run.headline.get("value") is not None else None
        rows.append({"name": name, "run_id": run.id, "backend": run.backend or run.target,
                     "finished": run.finished,
                     "headline": {"name": head.get("name"), "text": metric(head), **head}
                     if head else None,
                     "duration": duration(run.created, run.finished)})  # fmt: skip
    return rows


def _live(config: Config, runs: list[RunRecord]) -> tuple[dict[str, Any], str | None]:
    """{job id: (state, queue length)} from the service for IBM runs, or a note saying why not."""
    ibm = [r for r in runs if not r.target.startswith("local:") and r.jobs]
    if not ibm:
        return {}, None
    if not config.environ.get("IBM_QUANTUM_TOKEN"):
        return {}, "no IBM_QUANTUM_TOKEN: showing the recorded job states"
    import qiskit_ibm_runtime  # noqa: F401  (imported in the main thread; see tests/test_ibm_backend.py)

    found: dict[str, Any] = {}
    problem: list[str] = []
    backend_for = backend_factory(config)

    def ask() -> None:
        try:
            for run in ibm:
                for outcome in backend_for(run.target).collect([j.id for j in run.jobs]):
                    found[outcome.job_id] = (outcome.status.value, outcome.queue_length)
        except BackendError as exc:
            problem.append(str(exc))

    worker = threading.Thread(target=ask, daemon=True)
    worker.start()
    worker.join(LIVE_TIMEOUT_SECONDS)
    if worker.is_alive():
        return (
            {},
            f"the service did not answer within {LIVE_TIMEOUT_SECONDS:g} s: showing the recorded job states",
        )
    if problem:
        return {}, f"the service could not be asked ({problem[0]}): showing the recorded job states"
    return dict(found), None


def snapshot(config: Config, inputs: Inputs, now: datetime, offline: bool) -> dict[str, Any]:
    """Everything status shows, as data (the JSON envelope is exactly this)."""
    runs = [(name, r) for name, lock in sorted(inputs.locks.items()) for r in lock.runs
            if r.status.pending]  # fmt: skip
    live: dict[str, Any] = {}
    note = "offline: showing the recorded job states" if offline else None
    if not offline:
        live, note = _live(config, [r for _, r in runs])
    pending = []
    for name, run in runs:
        for job in run.jobs or (None,):
            state, queue = live.get(job.id, (None, None)) if job else (None, None)
            pending.append({"name": name, "run_id": run.id, "job_id": job.id if job else None,
                            "backend": run.backend or run.target,
                            "recorded": job.status if job else run.status.value,
                            "live": state, "queue_length": queue})  # fmt: skip
    used = qpu_seconds_used(inputs.locks, now)
    budget = config.limits.qpu_seconds_budget
    return {"experiments": _experiments(inputs), "pending": pending,
            "live": bool(live), "note": note, "recent": _recent(inputs.locks),
            "budget": {"used_seconds": used, "budget_seconds": budget,
                       "left_seconds": max(0.0, budget - used)}}  # fmt: skip


def show(out: Output, snap: dict[str, Any]) -> None:
    """The snapshot as tables (rich on a terminal, plain lines in CI)."""
    rows = [[e["name"], e["status"] if "problem" not in e else f"invalid: {e['problem']}",
             e["target"] or "—", e["last_run"] or "—", ", ".join(e["tags"]) or "—"]
            for e in snap["experiments"]]  # fmt: skip
    out.table(["experiment", "status", "target", "last run", "tags"], rows,
              title=f"Experiments ({len(rows)})")  # fmt: skip
    out.line()
    if snap["pending"]:
        out.table(
            ["experiment", "run", "job", "state", "backend", "queue"],
            [[p["name"], p["run_id"], p["job_id"] or "— (not submitted)",
              p["live"] or f"{p['recorded']} (recorded)", p["backend"],
              "—" if p["queue_length"] is None else p["queue_length"]] for p in snap["pending"]],
            title=f"Pending ({plural(len(snap['pending']), 'job')})",
        )  # fmt: skip
    else:
        out.line("No pending jobs.")
    if snap["note"]:
        out.line(f"Note: {snap['note']}.")
    done = sorted({p["name"] for p in snap["pending"] if p["live"] in FINAL})
    if done:
        out.line(
            f"Finished on the service, not yet collected: {', '.join(done)} (`qrun apply` collects)."
        )
    out.line()
    recent = [[r["name"], r["run_id"], r["backend"],
               f"{r['headline'].get('label') or metric_label(r['headline']['name'])} "
               f"{r['headline']['text']}"
               if r["headline"] else "—", r["duration"]] for r in snap["recent"]]  # fmt: skip
    if recent:
        out.table(["experiment", "run", "backend", "headline", "duration"], recent,
                  title="Recent results")  # fmt: skip
    else:
        out.line("No results yet.")
    b = snap["budget"]
    out.line()
    out.line(
        f"QPU budget, rolling 28 days: {b['used_seconds']:g} s used, {b['left_seconds']:g} s "
        f"left of {b['budget_seconds']:g} s."
    )


def _still_pending(snap: dict[str, Any]) -> bool:
    return any((p["live"] or p["recorded"]) not in FINAL for p in snap["pending"])


def run(args: argparse.Namespace, sleep: Callable[[float], None] = time.sleep) -> int:
    config = Config.load(args.repo)
    out = Output(args.format, quiet=args.quiet)
    interval = float(getattr(args, "interval", 5.0))
    while True:
        inputs = load_inputs(config)
        snap = snapshot(config, inputs, clock(config), args.offline)
        if out.fancy and args.watch:
            out.console().clear()
        show(out, snap)
        out.envelope("status", not inputs.problems, snap)
        if not (args.watch and _still_pending(snap)):
            return 0
        out.line(f"Refreshing in {interval:g} s (Ctrl-C to stop)…")
        sleep(interval)
        interval = min(WATCH_MAX_INTERVAL, interval * 2)
