"""The whole flow of `qrun apply` in one place, as an ordered list of small steps:

load specs → plan → submit / collect / retire → report → (commit and push)
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from runner.config import Config
from runner.errors import (
    CredentialsError,
    QrunError,
    SubmissionDeferred,
    UsageError,
)
from runner.files import remove_stray_temps
from runner.inputs import Inputs, load_inputs
from runner.lock import Lock, merge_locks, read_lock, write_lock
from runner.output import Output
from runner.plan import Action, Kind
from runner.planning import decide
from runner.progress import ApplyProgress
from runner.schedule import parse_time

if TYPE_CHECKING:
    from runner.execute import RunContext
    from runner.reports.build import ReportResult
from runner.shard import Shard

if TYPE_CHECKING:  # annotations only: planning loads no backend
    from runner.backends.base import Backend


class Status(StrEnum):
    DONE = "done"
    PENDING = "pending"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Outcome:
    """What happened to one spec in this invocation."""

    name: str
    action: Kind
    status: Status
    detail: str


@dataclass
class ApplyResult:
    actions: list[Action]
    outcomes: list[Outcome] = field(default_factory=list)
    reports_changed: list[str] = field(default_factory=list)
    alerts: list[dict[str, str]] = field(default_factory=list)  # drift alerts {spec, message}
    warnings: list[str] = field(default_factory=list)  # notes and report warnings
    uploaded: int = 0
    skipped: int = 0
    invalid_specs: int = 0

    @property
    def exit_code(self) -> int:
        """1 when a spec failed or is invalid (after everything else was done), else 0."""
        failed = any(o.status is Status.FAILED for o in self.outcomes)
        return 1 if failed or self.invalid_specs else 0


def clock(config: Config) -> datetime:
    """Now, in UTC; QRUN_NOW (ISO 8601) pins it for reproducible runs and tests."""
    pinned = config.environ.get("QRUN_NOW")
    if not pinned:
        return datetime.now(UTC).replace(microsecond=0)
    try:
        return parse_time(pinned)
    except ValueError:
        raise UsageError(
            f"QRUN_NOW must be an ISO 8601 time such as 2026-01-31T12:00:00Z (got {pinned!r})"
        ) from None


def detect_trigger(config: Config, requested: str | None) -> str:
    """merge / schedule / manual, from the flag or the GitHub event that started us."""
    if requested:
        return requested
    event = config.environ.get("GITHUB_EVENT_NAME", "")
    return {"push": "merge", "schedule": "schedule"}.get(event, "manual")


def backend_factory(config: Config) -> Callable[[str], Backend]:
    """One backend per target per invocation (the IBM service is created once)."""
    made: dict[str, Backend] = {}
    shared: dict[str, Any] = {}

    def get(target: str) -> Backend:
        if target not in made:
            if target.startswith("local:"):
                from runner.backends.local import LocalBackend

                made[target] = LocalBackend(target)
            else:
                from runner.backends.ibm import IbmBackend, settings_from

                settings = shared.setdefault("ibm", settings_from(config))
                made[target] = IbmBackend(settings, target)
        return made[target]

    return get


@dataclass(frozen=True)
class Hooks:
    """Where git sync plugs in: claim a run (push = compare-and-swap) and checkpoint progress."""

    claim: Callable[[Lock, Any], bool] = lambda lock, run: True
    checkpoint: Callable[[str], None] = lambda message: None


def apply(
    config: Config,
    out: Output,
    trigger: str | None = None,
    only: Sequence[str] = (),
    retry: frozenset[str] = frozenset(),
    hooks: Hooks = Hooks(),
    shard: Shard | None = None,
) -> ApplyResult:
    """Load → plan → execute each action → render reports. One failing spec never hides the others.

    With a shard, only the specs it owns are carried out and only their pages rendered: the
    dashboard is left to an unsharded apply (or `qrun report`) once every shard has pushed."""
    now = clock(config)
    for stray in remove_stray_temps(config.specs_dir, config.reports_dir):
        out.line(f"removed {stray.relative_to(config.repo_root)}, left by a killed qrun")
    inputs = load_inputs(config, only, shard=shard)
    for diag in inputs.problems:
        out.diagnostic(diag)
    ctx = _context(config, now, inputs)
    trigger = detect_trigger(config, trigger)
    actions = decide(config, out, inputs, now, trigger, ctx.backend_for, retry).actions
    result = ApplyResult(actions, invalid_specs=len(inputs.invalid))
    ctx.claim, ctx.checkpoint = hooks.claim, hooks.checkpoint
    specs = {s.name: s for s in inputs.specs}
    work = [a for a in actions if a.kind in (Kind.SUBMIT, Kind.COLLECT, Kind.RETIRE)]
    if work:  # uploads a killed runner began before any live lease could have been taken
        for upload in ctx.store.abort_stale_uploads(now - ctx.lease):
            out.line(f"aborted the incomplete upload of {upload}, left by a killed qrun")
    out.event("info", "apply.start", trigger=trigger, actions=len(work))
    with ApplyProgress.shown(out, work, ctx) as progress:
        for action in work:
            progress.begin(action)
            started = time.monotonic()
            outcome = _carry_out(ctx, action, specs, inputs.locks)
            result.outcomes.append(outcome)
            _log_outcome(out, action, outcome, inputs.locks, time.monotonic() - started)
            progress.end()
        for action in (a for a in actions if a.kind in (Kind.BLOCKED, Kind.DEFER)):
            result.outcomes.append(Outcome(action.name, action.kind, Status.SKIPPED, action.reason))
            out.event("info", f"run.{action.kind.value}", action.reason, spec=action.name,
                      run_id=action.run_id, backend=action.target)  # fmt: skip
        result.uploaded, result.skipped = ctx.uploaded, ctx.skipped
        for message in ctx.messages:
            out.line(message)
            out.event("info", "apply.note", message)
        result.warnings.extend(ctx.messages)
        with progress.rendering():
            report = render(config, out, ctx.queue_lengths, shard)
    result.reports_changed = report.changed
    result.alerts = [{"spec": name, "message": message} for name, message in report.alerts]
    result.warnings.extend(report.warnings)
    return result


def _log_outcome(
    out: Output, action: Action, outcome: Outcome, locks: dict[str, Lock], seconds: float
) -> None:
    """One event per action carried out: what, on which backend, with which jobs, how long."""
    lock = locks.get(action.name)
    run = next((r for r in lock.runs if r.id == action.run_id), None) if lock else None
    level = "error" if outcome.status is Status.FAILED else "info"
    out.event(
        level,
        f"run.{action.kind.value}",
        outcome.detail,
        spec=action.name,
        run_id=action.run_id,
        status=outcome.status.value,
        backend=(run.backend or run.target) if run else action.target,
        job_ids=[j.id for j in run.jobs] if run else None,
        duration_seconds=round(seconds, 3),
    )


def _context(config: Config, now: datetime, inputs: Inputs) -> RunContext:
    from runner.execute import RunContext  # the apply path's modules: no cost to a plan
    from runner.git_ops import last_commit_of
    from runner.stores.config import StoreConfig, open_store

    store = open_store(StoreConfig.from_env(config.environ, config.repo_root))

    def persist(lock: Lock) -> None:
        # Merge with what is on disk: a concurrent runner's records (replayed by git sync)
        # must survive this runner writing its own.
        merged = merge_locks(lock, read_lock(config.specs_dir, lock.name))
        inputs.locks[lock.name] = merged
        write_lock(config.specs_dir, merged)

    import socket  # here: only apply claims runs, and socket costs every plan its import

    runner_id = f"{socket.gethostname()}:{os.getpid()}"
    return RunContext(
        store=store,
        backend_for=backend_factory(config),
        now=now,
        persist=persist,
        commit_of=lambda path: last_commit_of(config.repo_root, path),
        runner_id=runner_id,
        lease=timedelta(minutes=config.limits.stale_claim_minutes),
        pinned=bool(config.environ.get("QRUN_NOW")),
    )


def _carry_out(ctx: RunContext, action: Action, specs: dict, locks: dict[str, Lock]) -> Outcome:
    from runner.collect import collect
    from runner.execute import ClaimLost, submit, supersede

    lock = locks.get(action.name, Lock(action.name))
    try:
        if action.kind is Kind.SUBMIT:
            if "supersedes" in action.details:
                lock = supersede(ctx, specs[action.name].variant(action.target), lock,
                                 str(action.details["supersedes"]))  # fmt: skip
            priced = action.estimate_cost is not None  # hardware: seconds and money planned
            lock = submit(
                ctx,
                specs[action.name].variant(action.target),
                lock,
                action.run_id or "",
                action.trigger or "manual",
                (action.estimate_seconds, action.estimate_cost or 0.0) if priced else None,
            )
            run = next(r for r in lock.runs if r.id == action.run_id)
            lock = collect(ctx, lock, run, specs.get(action.name))
        elif action.kind is Kind.COLLECT:
            run = next(r for r in lock.runs if r.id == action.run_id)
            lock = collect(ctx, lock, run, specs.get(action.name))
        else:
            return _retire(ctx, action, lock)
    except CredentialsError:
        raise  # a configuration problem of the whole invocation, not of this spec
    except ClaimLost as exc:
        return Outcome(action.name, action.kind, Status.SKIPPED, str(exc))
    except SubmissionDeferred as exc:  # an Open Plan cap: a later apply submits it
        return Outcome(action.name, Kind.DEFER, Status.SKIPPED, str(exc))
    except QrunError as exc:
        return Outcome(action.name, action.kind, Status.FAILED, str(exc))
    run = next(r for r in lock.runs if r.id == action.run_id)
    status = {"completed": Status.DONE, "failed": Status.FAILED, "cancelled": Status.FAILED}.get(
        run.status.value, Status.PENDING
    )
    detail = f"run {run.id} {run.status.value}" + (f" on {action.target}" if action.target else "")
    detail += f": {run.error}" if run.error else ""
    return Outcome(action.name, action.kind, status, detail)


def _retire(ctx: RunContext, action: Action, lock: Lock) -> Outcome:
    """Cancel a removed spec's pending jobs, and jobs found by tag for its expired claims
    (recorded as surplus); live claims are left to their owner. Its page goes with the next
    render."""
    from runner.backends.base import run_tags
    from runner.lock import JobRecord, RunStatus

    claims = set(action.details.get("claims") or ())
    retired = [r for r in lock.runs if r.status.pending and (r.jobs or r.id in claims)]
    for run in retired:
        backend = ctx.backend_for(run.target)
        ids = [j.id for j in run.jobs]
        found = [] if ids else [i for i, _ in backend.strays(run_tags(lock.name, run.id), [])]
        if ids or found:
            backend.cancel(ids + found)
        note = "spec removed: retired"
        if found:
            note += f"; cancelled job(s) {', '.join(found)} found by tag for the claim"
            ctx.messages.append(f"{lock.name}: run {run.id}: {note}")
        why = "found by tag for the claim of a removed spec"
        cancelled = tuple(JobRecord(i, (), "cancelled", why) for i in found)
        lock = lock.upsert(run.with_(status=RunStatus.CANCELLED, error=note,
                                     surplus=run.surplus + cancelled))  # fmt: skip
    if retired:
        ctx.persist(lock)
    return Outcome(action.name, action.kind, Status.DONE, action.reason)


def render(
    config: Config,
    out: Output,
    queue_lengths: dict[str, int] | None = None,
    shard: Shard | None = None,
) -> ReportResult:
    """Re-render every report (a shard: its own pages) from locks and stored results;
    returns what changed, the drift alerts and warnings (alerts also become GitHub warning
    annotations)."""
    from runner.reports.build import build_reports

    result = build_reports(config, queue_lengths, shard)
    for warning in result.warnings:
        out.line(f"warning: {warning}")
        out.event("warning", "report.warning", warning)
        out.annotate("warning", warning)
    for name, message in result.alerts:
        out.line(f"drift alert: {name}: {message}")
        out.event("warning", "drift.alert", message, spec=name)
        out.annotate("warning", f"qrun drift alert: {name}: {message}", f"specs/{name}.toml")
    return result
