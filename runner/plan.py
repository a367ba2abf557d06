"""Planning: a pure function of specs, locks, the clock and limits, returning actions with reasons.

Nothing here touches the disk, git or a service, so every decision is table-testable.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from runner.backends.fleet import is_retired, retirement_message
from runner.budget import Budget, budget_of, cost_of, held_seconds, history
from runner.config import Limits
from runner.estimate import estimate_qpu_seconds
from runner.lock import DEFERRED_MARK, Lock, RunRecord, RunStatus
from runner.schedule import format_time, is_due, next_due, parse_time
from runner.spec.model import Spec


class Kind(StrEnum):
    SUBMIT = "submit"
    COLLECT = "collect"
    REPORT = "report"
    RETIRE = "retire"
    BLOCKED = "blocked"
    DEFER = "defer"
    NOOP = "noop"


@dataclass(frozen=True)
class Action:
    kind: Kind
    name: str
    reason: str
    run_id: str | None = None
    trigger: str | None = None
    estimate_seconds: float = 0.0
    estimate_cost: float | None = None  # money for hardware runs (estimate x price); None: local
    details: Mapping[str, Any] = field(default_factory=dict)
    target: str | None = None  # which target of a multi-target spec (None: the only one)

    @property
    def changes(self) -> bool:
        """Whether apply would do anything for this action."""
        return self.kind in (Kind.SUBMIT, Kind.COLLECT, Kind.REPORT, Kind.RETIRE)


@dataclass(frozen=True)
class PlanInput:
    specs: Sequence[Spec]
    locks: Mapping[str, Lock]
    now: datetime
    trigger: str = "manual"
    limits: Limits = field(default_factory=Limits)
    invalid: Mapping[str, str] = field(default_factory=dict)
    report_digests: Mapping[str, str | None] = field(default_factory=dict)
    expected_digests: Mapping[str, str] = field(default_factory=dict)
    retry: frozenset[str] = frozenset()
    service_remaining_seconds: float | None = None
    listed_backends: Sequence[str] | None = None  # the instance's devices, when asked
    open_plan: bool = False  # the service says the instance is on the Open Plan: no charge
    ibm_credentials: bool = True  # IBM_QUANTUM_TOKEN is set (else a spec's IBM targets beside
    # a local one are blocked, "no credentials", and the local one runs)


def jobs_needed(spec: Spec, limits: Limits) -> int:
    return max(1, math.ceil(len(spec.circuits) / limits.max_circuits_per_job))


def _pending_jobs(locks: Mapping[str, Lock]) -> int:
    return sum(
        1
        for lock in locks.values()
        for r in lock.runs
        if r.status.pending and not r.target.startswith("local:")
        for j in r.jobs
        if j.status in ("queued", "running")
    )


def _submit_reason(spec: Spec, latest: RunRecord | None, inp: PlanInput) -> tuple[str, str] | None:
    """(reason, trigger) when the spec needs a new run, else None."""
    if latest is None:
        return ("new spec" if len(spec.targets) <= 1 else f"new target {spec.target}"), inp.trigger
    if latest.run_hash != spec.run_hash:
        return f"spec changed (run hash {latest.run_hash[:8]} → {spec.run_hash[:8]})", inp.trigger
    if latest.status in (RunStatus.FAILED, RunStatus.CANCELLED) and spec.name in inp.retry:
        return f"retry requested after {latest.status.value} run {latest.id}", "retry"
    schedule = spec.execution.schedule
    if (
        schedule
        and latest.status is RunStatus.COMPLETED
        and is_due(schedule, parse_time(latest.created), inp.now)
    ):
        due = next_due(schedule, parse_time(latest.created))
        return f"schedule '{schedule}' due since {due:%Y-%m-%d %H:%M}Z", "schedule"
    return None


def budget(inp: PlanInput) -> Budget:
    """What is left before this plan's submissions, and what a QPU second costs."""
    return budget_of(inp.limits, inp.locks, inp.now, inp.service_remaining_seconds, inp.open_plan)


def plan(inp: PlanInput) -> list[Action]:
    """Every spec's next step, in name order; blocked and deferred actions say why."""
    actions: list[Action] = []
    observed = history(inp.locks)
    left = budget(inp)
    remaining, price = left.qpu_seconds_left, left.price_per_qpu_second
    pending_jobs = _pending_jobs(inp.locks)
    submitted_jobs = 0
    for name, problem in sorted(inp.invalid.items()):
        actions.append(Action(Kind.BLOCKED, name, f"invalid spec: {problem}"))
    variants = [v for s in sorted(inp.specs, key=lambda s: s.name) for v in s.variants()]
    current: list[Spec] = []

    def add(action: Action) -> None:
        """Record an action, naming the target when the spec has several."""
        if len(current[0].targets) > 1:
            action = replace(action, target=current[0].target)
        actions.append(action)

    for spec in variants:
        lock = inp.locks.get(spec.name, Lock(spec.name))
        latest = _latest(spec, lock)
        current[:] = [spec]
        deferred = (
            latest is not None
            and latest.status is RunStatus.CLAIMED
            and (latest.error or "").startswith(DEFERRED_MARK)
        )
        if latest is not None and latest.status is RunStatus.CLAIMED:
            # a deferral ends its lease; a runner that took the claim over holds a new one
            lease_end = lease_expires(latest, inp.limits)
            if inp.now < lease_end:
                add(
                    Action(
                        Kind.NOOP,
                        spec.name,
                        f"run {latest.id} claimed by "
                        f"{latest.claimed_by or 'another runner'} at {latest.updated}; "
                        f"taken over if still unsubmitted after its lease ends "
                        f"({format_time(lease_end)})",
                    )
                )
                continue
        stale_old_claim = (
            latest is not None
            and latest.status is RunStatus.CLAIMED
            and latest.run_hash != spec.run_hash
        )
        resumed = None  # a claimed run taken over: submitted under its own id
        if latest is not None and latest.status.pending and not stale_old_claim:
            if latest.status is not RunStatus.CLAIMED:
                reason = f"{len(latest.jobs)} job(s) {latest.status.value}"
                add(Action(Kind.COLLECT, spec.name, reason, run_id=latest.id,
                           trigger=latest.trigger))  # fmt: skip
                continue
            resumed, trigger = latest.id, latest.trigger or "manual"
            reason = (
                "deferred by the pending-job cap in an earlier apply: submit now (adopting "
                "any job tagged with the run id)"
                if deferred
                else "stale claim (runner gone?): adopt jobs tagged with the run id, else submit"
            )
        else:  # a takeover is estimated, capped and counted like a new submission
            why = _submit_reason(spec, latest, inp)
            if why is None:
                add(_idle(spec, latest, inp))
                continue
            reason, trigger = why
        if is_retired(spec.target, inp.listed_backends):
            add(
                Action(
                    Kind.BLOCKED, spec.name, retirement_message(spec.target, inp.listed_backends)
                )
            )
            continue
        jobs = jobs_needed(spec, inp.limits)
        estimate = estimate_qpu_seconds(
            spec.target, len(spec.circuits), spec.execution.shots, jobs, observed
        )
        details: dict[str, Any] = {
            "circuits": len(spec.circuits),
            "shots": spec.execution.shots,
            "jobs": jobs,
            "target": spec.target,
        }
        if stale_old_claim and latest is not None:  # closed (and its jobs cancelled) first
            details["supersedes"] = latest.id
            reason += f"; closes stale claim {latest.id} of the older revision"
        run_id = resumed or lock.next_run_id(spec.run_hash)
        room = remaining  # a claim this submission takes over or closes gives back its hold
        if latest is not None and (resumed or stale_old_claim):
            room += held_seconds(latest, inp.now)
        cost = cost_of(spec.target, estimate, price)
        blocked = _blocking_reason(spec, estimate, cost, price, room, left, inp)
        if blocked is not None:
            add(Action(Kind.BLOCKED, spec.name, blocked, estimate_seconds=estimate,
                       estimate_cost=cost, details=details))  # fmt: skip
            continue
        if not spec.target.startswith("local:"):
            if pending_jobs + jobs > inp.limits.max_pending_jobs:
                add(
                    Action(
                        Kind.DEFER,
                        spec.name,
                        f"{reason}; deferred: {pending_jobs} jobs "
                        f"pending, limit {inp.limits.max_pending_jobs}",
                        estimate_seconds=estimate,
                        estimate_cost=cost,
                    )
                )
                continue
            if submitted_jobs + jobs > inp.limits.submissions_per_minute:
                add(
                    Action(
                        Kind.DEFER,
                        spec.name,
                        f"{reason}; deferred: submission rate "
                        f"limit {inp.limits.submissions_per_minute}/min",
                        estimate_seconds=estimate,
                        estimate_cost=cost,
                    )
                )
                continue
            pending_jobs += jobs
            submitted_jobs += jobs
        remaining = round(room - estimate, 9)
        add(
            Action(
                Kind.SUBMIT,
                spec.name,
                reason,
                run_id=run_id,
                trigger=trigger,
                estimate_seconds=estimate,
                estimate_cost=cost,
                details=details,
            )
        )
    known = {s.name for s in inp.specs} | set(inp.invalid)
    for name, lock in sorted(inp.locks.items()):
        if name in known:
            continue
        pending = [j.id for r in lock.runs if r.status.pending for j in r.jobs]
        # a claim whose answer was lost may have a job: once its lease ends, look it up by tag
        claims = [r.id for r in lock.runs if r.status is RunStatus.CLAIMED and not r.jobs
                  and inp.now >= lease_expires(r, inp.limits)]  # fmt: skip
        expected = inp.expected_digests.get(name)
        if pending or claims:
            work = [f"cancel {len(pending)} pending job(s)"] if pending else []
            work += [f"look up {len(claims)} unsubmitted claim(s) by tag"] if claims else []
            actions.append(
                Action(
                    Kind.RETIRE,
                    name,
                    f"spec removed: {' and '.join(work)} and archive",
                    details={"jobs": pending, **({"claims": claims} if claims else {})},
                )
            )
        elif expected is not None and inp.report_digests.get(name) != expected:
            actions.append(Action(Kind.REPORT, name, "spec removed: mark its report archived"))
        else:
            actions.append(Action(Kind.NOOP, name, "spec removed; report archived, history kept"))
    return actions


def lease_expires(run: RunRecord, limits: Limits) -> datetime:
    """When a claim may be taken over: its recorded lease, else (older records) its last
    update plus QRUN_STALE_CLAIM_MINUTES."""
    if run.lease_expires:
        return parse_time(run.lease_expires)
    return parse_time(run.updated) + timedelta(minutes=limits.stale_claim_minutes)


def _latest(spec: Spec, lock: Lock) -> RunRecord | None:
    """The run that decides the spec's next step: per target when it has several."""
    if len(spec.targets) <= 1:
        return lock.latest
    return next((r for r in reversed(lock.runs) if r.target == spec.target), None)


def _blocking_reason(
    spec: Spec,
    estimate: float,
    cost: float | None,
    price: float,
    room: float,
    left: Budget,
    inp: PlanInput,
) -> str | None:
    """Why a submission may not go ahead (its caps, the budget, missing credentials), or
    None: the first rule it breaks, in the order a user fixes them."""
    cap, money_cap = spec.execution.max_qpu_seconds, spec.execution.max_cost
    if cap is not None and estimate > cap:
        return (
            f"estimated {estimate:g} QPU s exceeds "
            f"max_qpu_seconds = {cap:g}; raise it or reduce shots/circuits"
        )
    if money_cap is not None and cost is not None and cost > money_cap:
        return (
            f"estimated cost {cost:.2f} ({estimate:g} QPU s at {price:g}/s) exceeds "
            f"max_cost = {money_cap:g}; raise it or reduce shots/circuits"
        )
    if estimate > 0 and estimate > room:
        where = (
            "on the IBM Quantum instance (its usage limit)"
            if left.service_binds
            else f"of {inp.limits.qpu_seconds_budget:g} s in the rolling 28 days"
        )
        return f"over budget: needs ~{estimate:g} QPU s, {max(room, 0):g} s left {where}"
    # A spec with a local twin runs there without an account; a hardware-only spec
    # without credentials is a configuration error of the invocation (apply exits 1).
    has_twin = any(t.startswith("local:") for t in spec.targets)
    if not spec.target.startswith("local:") and not inp.ibm_credentials and has_twin:
        return (
            f"no credentials for {spec.target}: set IBM_QUANTUM_TOKEN and "
            "IBM_QUANTUM_INSTANCE to submit it (its local target runs without them)"
        )
    return None


def _idle(spec: Spec, latest: RunRecord | None, inp: PlanInput) -> Action:
    """REPORT when the page is missing or stale, otherwise NOOP with the reason nothing happens."""
    expected = inp.expected_digests.get(spec.name)
    first = not spec.targets or spec.target == spec.targets[0]  # one page for all targets
    if first and expected is not None and inp.report_digests.get(spec.name) != expected:
        missing = inp.report_digests.get(spec.name) is None
        return Action(Kind.REPORT, spec.name, "report missing" if missing else "report stale")
    assert latest is not None
    if latest.status in (RunStatus.FAILED, RunStatus.CANCELLED):
        return Action(
            Kind.NOOP,
            spec.name,
            f"last run {latest.id} {latest.status.value}"
            f"{': ' + latest.error if latest.error else ''}; not re-submitted for the same "
            f"spec revision (`qrun retry {spec.name}` to re-run)"
            + ("; its schedule is paused until then" if spec.execution.schedule else ""),
        )
    schedule = spec.execution.schedule
    if schedule:
        due = next_due(schedule, parse_time(latest.created))
        return Action(
            Kind.NOOP, spec.name, f"up to date (next scheduled run {due:%Y-%m-%d %H:%M}Z)"
        )
    return Action(Kind.NOOP, spec.name, f"up to date (run {latest.id})")
