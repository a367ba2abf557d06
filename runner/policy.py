"""Policy gates: rules from qrun-policy.toml that every planned submission is checked
against (allowed targets, shots, estimated QPU seconds and money per spec and per pull
request, approval above a threshold of either). Each violation is blocking or advisory; `apply` turns a blocking one into a
blocked action that says why, `plan` shows both in the comment and as annotations.

Checking is a pure function of the policy, the actions and the approval state.
"""

from __future__ import annotations

import fnmatch
import json
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from runner.errors import Diagnostic, SpecError
from runner.plan import Action, Kind

POLICY_FILE = "qrun-policy.toml"


@dataclass(frozen=True)
class Policy:
    allowed_targets: tuple[str, ...] | None = None
    max_shots: int | None = None
    max_qpu_seconds_per_spec: float | None = None
    max_qpu_seconds_per_pr: float | None = None
    max_cost_per_spec: float | None = None  # money: the plan's estimate_cost (seconds x price)
    max_cost_per_pr: float | None = None
    approval_above: float | None = None
    approval_above_cost: float | None = None
    approval_label: str = "qrun:approved"
    codeowners_review: bool = False
    advisory: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Approval:
    """What could approve the pull request: its labels, and its approvers who own the specs."""

    labels: frozenset[str] = frozenset()
    owner_approved: Callable[[str], bool] = lambda spec: False


@dataclass(frozen=True)
class Violation:
    rule: str
    name: str | None  # the spec, or None for a rule over the whole pull request
    message: str
    blocking: bool = True

    @property
    def level(self) -> str:
        return "blocking" if self.blocking else "advisory"


def load_policy(repo_root: Path) -> Policy | None:
    """The repository's policy, or None without a policy file; bad files name file and key."""
    path = repo_root / POLICY_FILE
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError([Diagnostic(POLICY_FILE, 1, 1, f"not valid TOML: {exc}")]) from None
    from jsonschema import Draft202012Validator

    from runner.spec.locate import locate

    schema = json.loads(
        resources.files("runner").joinpath("data/policy.schema.json").read_text("utf-8")
    )
    errors = sorted(Draft202012Validator(schema).iter_errors(doc), key=lambda e: list(e.path))
    if errors:
        where = locate(text)
        raise SpecError(
            [
                Diagnostic(
                    POLICY_FILE,
                    *where.value(tuple(e.path)),
                    f"{_worded(e)} (see schemas/policy.schema.json)",
                )
                for e in errors
            ]
        )
    approval = doc.get("approval", {})
    targets = doc.get("allowed_targets")
    return Policy(
        allowed_targets=tuple(targets) if targets is not None else None,
        max_shots=doc.get("max_shots"),
        max_qpu_seconds_per_spec=doc.get("max_qpu_seconds_per_spec"),
        max_qpu_seconds_per_pr=doc.get("max_qpu_seconds_per_pr"),
        max_cost_per_spec=doc.get("max_cost_per_spec"),
        max_cost_per_pr=doc.get("max_cost_per_pr"),
        approval_above=approval.get("above_qpu_seconds"),
        approval_above_cost=approval.get("above_cost"),
        approval_label=approval.get("label", "qrun:approved"),
        codeowners_review=approval.get("codeowners_review", False),
        advisory=frozenset(doc.get("advisory", [])),
    )


def _worded(error: Any) -> str:
    """jsonschema's message; for "one of these is needed" (anyOf), what each would need."""
    if error.validator == "anyOf" and error.context:
        return " or ".join(sorted({sub.message for sub in error.context}))
    return str(error.message)


@dataclass
class _Found:
    policy: Policy
    violations: list[Violation] = field(default_factory=list)

    def add(self, rule: str, name: str | None, message: str) -> None:
        blocking = rule not in self.policy.advisory
        self.violations.append(Violation(rule, name, message, blocking))


def _cost(action: Action) -> float:
    """The plan's money estimate; local runs (None) are not billed."""
    return action.estimate_cost or 0.0


def _seconds(action: Action) -> float:
    return action.estimate_seconds


# (rule, what is measured, message): each limit per spec, then over the whole PR.
_Limit = tuple[str, Callable[[Action], float], str]
_SPEC_LIMITS: tuple[_Limit, ...] = (
    ("max_qpu_seconds_per_spec", _seconds, "estimated {value:g} QPU s exceed {rule} = {cap:g}"),
    ("max_cost_per_spec", _cost, "estimated cost {value:.2f} exceeds {rule} = {cap:g}"),
)
_PR_LIMITS: tuple[_Limit, ...] = (
    (
        "max_qpu_seconds_per_pr",
        _seconds,
        "estimated {value:g} QPU s in all exceed {rule} = {cap:g}",
    ),
    ("max_cost_per_pr", _cost, "estimated cost {value:.2f} in all exceeds {rule} = {cap:g}"),
)


def check(policy: Policy, actions: Sequence[Action], approval: Approval) -> list[Violation]:
    """Every rule the planned submissions break, in action order, then the PR-wide rules."""
    found = _Found(policy)
    submits = [a for a in actions if a.kind is Kind.SUBMIT]
    for a in submits:
        target = str(a.details.get("target") or a.target or "")
        if (
            policy.allowed_targets is not None
            and target
            and not any(fnmatch.fnmatchcase(target, pattern) for pattern in policy.allowed_targets)
        ):
            allowed = ", ".join(policy.allowed_targets)
            found.add("allowed_targets", a.name, f"target {target} is not allowed ({allowed})")
        shots = a.details.get("shots")
        if policy.max_shots is not None and isinstance(shots, int) and shots > policy.max_shots:
            found.add("max_shots", a.name, f"{shots} shots exceed max_shots = {policy.max_shots}")
        for rule, measure, message in _SPEC_LIMITS:
            cap, value = getattr(policy, rule), measure(a)
            if cap is not None and value > cap:
                found.add(rule, a.name, message.format(value=value, rule=rule, cap=cap))
    for rule, measure, message in _PR_LIMITS:
        # rounded: summed cents must not exceed a cap they equal by float error
        cap, value = getattr(policy, rule), round(sum(measure(a) for a in submits), 9)
        if cap is not None and value > cap:
            found.add(rule, None, message.format(value=value, rule=rule, cap=cap))
    over = _over_approval_threshold(policy, submits)
    if over:
        owners_ok = policy.codeowners_review and all(
            approval.owner_approved(a.name) for a in submits
        )
        if policy.approval_label not in approval.labels and not owners_ok:
            how = f"the `{policy.approval_label}` label" + (
                " or an approving review by a code owner of each spec"
                if policy.codeowners_review
                else ""
            )
            found.add("approval", None, f"{over}; needs {how}")
    return found.violations


def _over_approval_threshold(policy: Policy, submits: Sequence[Action]) -> str | None:
    """Why the PR needs an approval (its estimated seconds or money over a threshold)."""
    seconds = sum(_seconds(a) for a in submits)
    if policy.approval_above is not None and seconds > policy.approval_above:
        return (
            f"estimated {seconds:g} QPU s exceed the approval "
            f"threshold of {policy.approval_above:g} s"
        )
    cost = round(sum(_cost(a) for a in submits), 9)
    if policy.approval_above_cost is not None and cost > policy.approval_above_cost:
        return (
            f"estimated cost {cost:.2f} exceeds the approval "
            f"threshold of {policy.approval_above_cost:g}"
        )
    return None


def enforce(actions: Sequence[Action], violations: Sequence[Violation]) -> list[Action]:
    """Submissions with a blocking violation (their own, or one over the whole PR) become
    blocked actions whose reason says which rule and why."""
    pr_wide = [v for v in violations if v.blocking and v.name is None]
    out = []
    for a in actions:
        mine = [v for v in violations if v.blocking and v.name == a.name]
        if a.kind is Kind.SUBMIT and (mine or pr_wide):
            why = "; ".join(f"policy {v.rule}: {v.message}" for v in [*mine, *pr_wide])
            out.append(replace(a, kind=Kind.BLOCKED, reason=why))
        else:
            out.append(a)
    return out


def codeowners(text: str) -> Callable[[str], tuple[str, ...]]:
    """Owners of a path from a CODEOWNERS file (gitignore-style patterns, last match wins)."""
    rules = []
    for line in text.splitlines():
        parts = line.split("#", 1)[0].split()
        if len(parts) >= 2:
            rules.append((parts[0], tuple(o.lstrip("@").lower() for o in parts[1:])))

    def owners(path: str) -> tuple[str, ...]:
        match: tuple[str, ...] = ()
        for pattern, who in rules:
            anchored = pattern.lstrip("/")
            if pattern.endswith("/"):
                hit = path.startswith(anchored) or f"/{anchored}" in f"/{path}"
            elif "/" in pattern.rstrip("/"):
                hit = fnmatch.fnmatchcase(path, anchored) or path.startswith(anchored + "/")
            else:
                hit = fnmatch.fnmatchcase(path.rsplit("/", 1)[-1], pattern) or pattern == "*"
            if hit:
                match = who
        return match

    return owners


def approval_from(
    labels: Sequence[str], approvers: Sequence[str], owners_text: str | None
) -> Approval:
    """The approval state of a pull request from its labels, approving reviewers and CODEOWNERS."""
    owners = codeowners(owners_text or "")
    who = {a.lower() for a in approvers}

    def owner_approved(spec: str) -> bool:
        return bool(set(owners(f"specs/{spec}.toml")) & who)

    return Approval(frozenset(labels), owner_approved)


def annotations_of(violations: Sequence[Violation]) -> list[tuple[str, str, str | None]]:
    """(level, message, file) for GitHub annotations: blocking as errors, advisory as warnings."""
    return [
        (
            "error" if v.blocking else "warning",
            f"qrun policy {v.rule} ({v.level}): {v.message}",
            f"specs/{v.name}.toml" if v.name else POLICY_FILE,
        )
        for v in violations
    ]
