"""Which pull request this invocation serves, and what approves it: from the event payload
of a `pull_request` run, or, on merge, from the merge commit through the GitHub API."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from runner.config import Config
from runner.github_api import GitHub, GitHubError
from runner.output import Output
from runner.plan import Action
from runner.policy import (
    Approval,
    Policy,
    Violation,
    annotations_of,
    approval_from,
    check,
    enforce,
    load_policy,
)

CODEOWNERS_PLACES = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")


@dataclass(frozen=True)
class PullRequest:
    number: int
    labels: tuple[str, ...]


def _event(config: Config) -> dict:
    path = config.environ.get("GITHUB_EVENT_PATH")
    if not path or not Path(path).is_file():
        return {}
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _pull(doc: dict) -> PullRequest:
    labels = tuple(str(lbl.get("name")) for lbl in doc.get("labels") or [] if lbl.get("name"))
    return PullRequest(int(doc["number"]), labels)


def current_pull_request(config: Config, github: GitHub | None, out: Output) -> PullRequest | None:
    """The PR of a pull_request event, else the merged PR of GITHUB_SHA (None when unknown)."""
    pr = _event(config).get("pull_request")
    if isinstance(pr, dict) and "number" in pr:
        return _pull(pr)
    sha = config.environ.get("GITHUB_SHA")
    if github is None or not sha:
        return None
    try:
        pulls = github.pulls_of_commit(sha)
    except GitHubError as exc:
        out.line(f"warning: cannot find the pull request of {sha[:12]}: {exc}")
        return None
    merged = [p for p in pulls if p.get("merged_at")] or pulls
    return _pull(merged[0]) if merged else None


def approval_for(
    config: Config, policy: Policy, github: GitHub | None, pr: PullRequest | None, out: Output
) -> Approval:
    """Labels always; approving reviews and CODEOWNERS only when the policy accepts them."""
    if pr is None:
        return Approval()
    approvers: list[str] = []
    owners = None
    if policy.codeowners_review and github is not None:
        try:
            approvers = github.approvers(pr.number)
        except GitHubError as exc:
            out.line(f"warning: cannot read the reviews of PR #{pr.number}: {exc}")
        for place in CODEOWNERS_PLACES:
            path = config.repo_root / place
            if path.is_file():
                owners = path.read_text(encoding="utf-8")
                break
    return approval_from(pr.labels, approvers, owners)


def gate(
    config: Config,
    out: Output,
    actions: list[Action],
    shown: Callable[[str], bool] = lambda name: True,
) -> tuple[list[Action], list[Violation]]:
    """Check the plan against qrun-policy.toml (when there is one): blocking violations turn
    their submissions into blocked actions. The violations of the specs `shown` selects
    (a shard's own) and the PR-wide ones are annotated and returned."""
    policy = load_policy(config.repo_root)
    if policy is None:
        return actions, []
    github = GitHub.from_env(config.environ)
    pr = current_pull_request(config, github, out)
    violations = check(policy, actions, approval_for(config, policy, github, pr, out))
    mine = [v for v in violations if v.name is None or shown(v.name)]
    for level, message, file in annotations_of(mine):
        out.line(f"{'error' if level == 'error' else 'warning'}: {message}")
        out.annotate(level, message, file)
    return enforce(actions, violations), mine
