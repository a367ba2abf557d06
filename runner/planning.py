"""The plan one invocation carries out, from its loaded inputs: planned over the whole of
the work (every shard's specs), with the service's answers it needs (QPU quota, listed
devices), checked against the policy as a whole, and only then narrowed to this
invocation's share (--shard, --only's removed-spec locks).

The whole plan is a deterministic function of the specs and locks on origin, so every
shard of one apply reaches the same verdict on per-PR rules and the budget and carries out
only its part of it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from runner.backends.fleet import is_retired
from runner.budget import Budget
from runner.config import Config
from runner.errors import BackendError, CredentialsError
from runner.inputs import Inputs
from runner.output import Output
from runner.plan import Action, Kind, PlanInput, budget, plan
from runner.policy import Violation

if TYPE_CHECKING:  # annotations only: planning loads no backend
    from runner.backends.base import Backend


@dataclass(frozen=True)
class Decision:
    actions: list[Action]  # this invocation's share, policy applied
    violations: list[Violation]  # PR-wide ones and those of this share's specs
    budget: Budget  # what the whole plan was made against


def remaining_quota(
    config: Config, inputs: Inputs, backend_for: Callable[[str], Backend]
) -> tuple[float | None, bool]:
    """(QPU seconds the IBM instance has left, whether it is on the Open Plan), asked only
    when a spec targets IBM."""
    ibm = [s.target for s in inputs.specs + inputs.elsewhere if not s.target.startswith("local:")]
    if not ibm or not config.environ.get("IBM_QUANTUM_TOKEN"):
        return None, False
    try:
        left, plan_id = backend_for(ibm[0]).quota()  # type: ignore[attr-defined]
    except CredentialsError:
        raise
    except BackendError:
        return None, False  # an outage must not stop collection or local runs
    return left, plan_id == "open"


def listed_backends(config: Config) -> list[str] | None:
    """The instance's devices from the service, or None without credentials or answer."""
    if not config.environ.get("IBM_QUANTUM_TOKEN"):
        return None
    from runner.backends.ibm import available_backends, settings_from

    try:
        return available_backends(settings_from(config)) or None
    except CredentialsError:
        raise
    except BackendError:
        return None


def whole_plan(
    config: Config,
    inputs: Inputs,
    now: datetime,
    trigger: str,
    backend_for: Callable[[str], Backend],
    retry: frozenset[str] = frozenset(),
) -> tuple[list[Action], Budget]:
    """The plan over every spec of the work (other shards' too) and the budget it was made
    against (QPU time left, price, Open Plan)."""
    from runner.reports.digest import expected_digests, read_digests

    every = inputs.specs + inputs.elsewhere
    names = list(dict.fromkeys([s.name for s in every] + list(inputs.locks)))  # each once
    base = PlanInput(
        specs=every,
        locks=inputs.locks,
        now=now,
        trigger=trigger,
        limits=config.limits,
        invalid=inputs.invalid,
        retry=retry,
        report_digests=read_digests(config.reports_dir, names),
        expected_digests=expected_digests(config, inputs),  # our pages: others are not ours
        ibm_credentials=bool(config.environ.get("IBM_QUANTUM_TOKEN", "").strip()),
    )
    specs = {s.name: s for s in every}
    actions = plan(base)
    blocked = [a for a in actions if a.kind is Kind.BLOCKED and a.name in specs]
    if any(is_retired(specs[a.name].variant(a.target).target) for a in blocked):
        listed = listed_backends(config)  # the service confirms the retirement and says
        if listed is not None:  # which devices are current
            base = replace(base, listed_backends=listed)
            actions = plan(base)
    # Ask the service for the remaining quota only when hardware submissions are planned.
    if any(
        a.kind is Kind.SUBMIT and not (a.target or specs[a.name].target).startswith("local:")
        for a in actions
    ):
        remaining, open_plan = remaining_quota(config, inputs, backend_for)
        if remaining is not None or open_plan:
            base = replace(base, service_remaining_seconds=remaining, open_plan=open_plan)
            actions = plan(base)
    return actions, budget(base)


def decide(
    config: Config,
    out: Output,
    inputs: Inputs,
    now: datetime,
    trigger: str,
    backend_for: Callable[[str], Backend],
    retry: frozenset[str] = frozenset(),
) -> Decision:
    """The whole plan, gated by the policy as a whole, then narrowed to what this invocation
    selects: --shard narrows what is done, not what is counted; --only narrows the plan
    itself (every lock, so the budget's usage, is still counted)."""
    from runner.pr_context import gate

    actions, left = whole_plan(config, inputs, now, trigger, backend_for, retry)
    actions, violations = gate(config, out, actions, inputs.selects)
    return Decision([a for a in actions if inputs.selects(a.name)], violations, left)
