"""Policy gates: rules from qrun-policy.toml that every planned submission is checked
against (allowed targets, shots, QPU seconds per spec and per pull request, approval above
a threshold). Each violation is blocking or advisory; `apply` turns a blocking one into a
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

from runner.errors import Diagnostic, SpecError
from runner.plan import Action, Kind

POLICY_FILE = "qrun-policy.toml"


@dataclass(frozen=True)
class Policy:
    allowed_targets: tuple[str, ...] | None = None
    max_shots: int | None = None
    max_qpu_seconds_per_spec: float | None = None
    max_qpu_seconds_per_pr: float | None = None
    approval_above: float | None = None
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
                    f"{e.message} (see schemas/policy.schema.json)",
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
        approval_above=approval.get("above_qpu_seconds"),
        approval_label=approval.get("label", "qrun:approved"),
        codeowners_review=approval.get("codeowners_review", False),
        advisory=frozenset(doc.get("advisory", [])),
    )


@dataclass
class _Found:
    policy: Policy
    violations: list[Violation] = field(default_factory=list)

    def add(self, rule: str, name: str | None, message: str) -> None:
        blocking = rule not in self.policy.advisory
        self.violations.append(Violation(rule, name, message, blocking))


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
        cap = policy.max_qpu_seconds_per_spec
        if cap is not None and a.estimate_seconds > cap:
            found.add(
                "max_qpu_seconds_per_spec",
                a.name,
                f"estimated {a.estimate_seconds:g} QPU s exceed max_qpu_seconds_per_spec = {cap:g}",
            )
    total = sum(a.estimate_seconds for a in submits)
    cap = policy.max_qpu_seconds_per_pr
    if cap is not None and total > cap:
        found.add(
            "max_qpu_seconds_per_pr",
            None,
            f"estimated {total:g} QPU s in all exceed max_qpu_seconds_per_pr = {cap:g}",
        )
    if policy.approval_above is not None and total > policy.approval_above:
        owners_ok = policy.codeowners_review and all(
            approval.owner_approved(a.name) for a in submits
        )
        if policy.approval_label not in approval.labels and not owners_ok:
            how = f"the `{policy.approval_label}` label" + (
                " or an approving review by a code owner of each spec"
                if policy.codeowners_review
                else ""
            )
            found.add(
                "approval",
                None,
                f"estimated {total:g} QPU s exceed the approval "
                f"threshold of {policy.approval_above:g} s; needs {how}",
            )
    return found.violations


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
