"""The QPU budget a plan is made against: what the rolling window has used, what is left
(or the instance's own usage limit, when lower), and what a QPU second costs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from runner.config import Limits
from runner.estimate import Observed
from runner.lock import Lock, RunRecord, RunStatus
from runner.schedule import parse_time

BUDGET_WINDOW = timedelta(days=28)


def history(locks: Mapping[str, Lock]) -> list[Observed]:
    """Completed hardware runs with recorded QPU time, to refine estimates."""
    return [
        Observed(
            r.backend or r.target,
            len(r.jobs),
            (r.shots or 0) * sum(len(j.circuits) for j in r.jobs),  # circuits × shots run
            r.qpu_seconds,
        )
        for lock in locks.values()
        for r in lock.runs
        if r.status is RunStatus.COMPLETED and r.qpu_seconds and not r.target.startswith("local:")
    ]


def qpu_seconds_used(locks: Mapping[str, Lock], now: datetime) -> float:
    """QPU seconds recorded in the rolling budget window."""
    since = now - BUDGET_WINDOW
    return sum(
        r.qpu_seconds or 0.0
        for lock in locks.values()
        for r in lock.runs
        if parse_time(r.created) >= since
    )


def held_seconds(run: RunRecord, now: datetime) -> float:
    """What a pending run (claimed, queued, running) still holds of the budget: its planned
    estimate less what it has recorded so far. Counted as spent, so a runner planning after
    another runner's claim was pushed (a later shard) never hands the same seconds out again."""
    if not run.status.pending or parse_time(run.created) < now - BUDGET_WINDOW:
        return 0.0
    return max(0.0, (run.estimate_qpu_seconds or 0.0) - (run.qpu_seconds or 0.0))


def qpu_seconds_held(locks: Mapping[str, Lock], now: datetime) -> float:
    """QPU seconds the pending runs of the rolling window hold (see held_seconds)."""
    return sum(held_seconds(r, now) for lock in locks.values() for r in lock.runs)


@dataclass(frozen=True)
class Budget:
    """The money and QPU time a plan is made against, for the plan's summary line."""

    qpu_seconds_left: float  # in the rolling window (or the instance's limit, if lower)
    price_per_qpu_second: float
    open_plan: bool
    service_binds: bool = False  # the instance's usage limit is what is left, not the window


def budget_of(
    limits: Limits,
    locks: Mapping[str, Lock],
    now: datetime,
    service_remaining: float | None = None,
    open_plan: bool = False,
) -> Budget:
    """What is left before a plan's submissions (recorded usage and pending runs' estimates
    taken off), and what a QPU second costs."""
    left = limits.qpu_seconds_budget - qpu_seconds_used(locks, now)
    binds = service_remaining is not None and service_remaining < left
    if service_remaining is not None:
        left = min(left, service_remaining)
    left -= qpu_seconds_held(locks, now)
    left = round(max(left, 0.0), 9)  # sums of estimates in 0.01 s must not miss by float error
    return Budget(left, price_per_second(limits, open_plan), open_plan, binds)


def price_per_second(limits: Limits, open_plan: bool) -> float:
    """What a QPU second costs this instance: nothing on the Open Plan, else the rate."""
    return 0.0 if open_plan else limits.price_per_qpu_second


def cost_of(target: str, seconds: float, price: float) -> float | None:
    """Estimated money for a run: None on a local target (no QPU time is billed)."""
    if target.startswith("local:"):
        return None
    return round(seconds * price, 2)
