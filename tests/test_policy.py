"""Policy gates: a table of rules × plans × approvals and the violations each must give, the
policy file's validation, CODEOWNERS matching, and apply/plan honouring the policy (the
approval looked up through a local stand-in for the GitHub API)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.cli import main
from runner.errors import SpecError
from runner.plan import Action, Kind
from runner.policy import (
    POLICY_FILE,
    Approval,
    Policy,
    approval_from,
    check,
    codeowners,
    enforce,
    load_policy,
)
from tests.github_standin import GitHubStandIn, serve


def submit(
    name: str,
    target: str = "ibm_fez",
    shots: int = 1000,
    seconds: float = 10,
    cost: float | None = None,
) -> Action:
    details = {"target": target, "shots": shots, "circuits": 1, "jobs": 1}
    return Action(Kind.SUBMIT, name, "new spec", "0001-aaaa", estimate_seconds=seconds,
                  estimate_cost=cost, details=details)  # fmt: skip


LABELLED = Approval(frozenset({"qpu-ok"}))
OWNER_OK = Approval(owner_approved=lambda spec: spec == "a")

CASES = [
    # (id, policy, actions, approval, expected (rule, spec, blocking))
    ("nothing set", Policy(), [submit("a", shots=10**5, seconds=999)], Approval(), []),
    ("target allowed by pattern", Policy(allowed_targets=("ibm_*",)), [submit("a")],
     Approval(), []),
    ("target not allowed", Policy(allowed_targets=("local:*", "ibm_kingston")), [submit("a")],
     Approval(), [("allowed_targets", "a", True)]),
    ("too many shots", Policy(max_shots=500), [submit("a"), submit("b", shots=500)],
     Approval(), [("max_shots", "a", True)]),
    ("advisory shots", Policy(max_shots=500, advisory=frozenset({"max_shots"})),
     [submit("a")], Approval(), [("max_shots", "a", False)]),
    ("spec over its seconds", Policy(max_qpu_seconds_per_spec=5), [submit("a", seconds=6)],
     Approval(), [("max_qpu_seconds_per_spec", "a", True)]),
    ("PR over its seconds", Policy(max_qpu_seconds_per_pr=15),
     [submit("a"), submit("b")], Approval(), [("max_qpu_seconds_per_pr", None, True)]),
    ("PR at its seconds", Policy(max_qpu_seconds_per_pr=20),
     [submit("a"), submit("b")], Approval(), []),
    ("approval needed", Policy(approval_above=5, approval_label="qpu-ok"), [submit("a")],
     Approval(), [("approval", None, True)]),
    ("approved by label", Policy(approval_above=5, approval_label="qpu-ok"), [submit("a")],
     LABELLED, []),
    ("under the threshold", Policy(approval_above=50), [submit("a")], Approval(), []),
    ("owner review not accepted", Policy(approval_above=5), [submit("a")], OWNER_OK,
     [("approval", None, True)]),
    ("owner review accepted", Policy(approval_above=5, codeowners_review=True), [submit("a")],
     OWNER_OK, []),
    ("owner of one spec only", Policy(approval_above=5, codeowners_review=True),
     [submit("a"), submit("b")], OWNER_OK, [("approval", None, True)]),
    ("collections are never gated", Policy(max_shots=1, allowed_targets=("x",)),
     [Action(Kind.COLLECT, "a", "1 job(s) queued", "0001-aaaa")], Approval(), []),
    ("spec over its money", Policy(max_cost_per_spec=10), [submit("a", cost=16.0),
     submit("b", cost=10.0)], Approval(), [("max_cost_per_spec", "a", True)]),
    ("advisory money", Policy(max_cost_per_spec=10, advisory=frozenset({"max_cost_per_spec"})),
     [submit("a", cost=16.0)], Approval(), [("max_cost_per_spec", "a", False)]),
    ("local runs cost nothing", Policy(max_cost_per_spec=0, max_cost_per_pr=0),
     [submit("a", target="local:aer", cost=None)], Approval(), []),
    ("PR over its money", Policy(max_cost_per_pr=20), [submit("a", cost=16.0),
     submit("b", cost=16.0)], Approval(), [("max_cost_per_pr", None, True)]),
    ("PR at its money (cents summed exactly)", Policy(max_cost_per_pr=0.3),
     [submit("a", cost=0.1), submit("b", cost=0.2)], Approval(), []),
    ("approval needed for money", Policy(approval_above_cost=5, approval_label="qpu-ok"),
     [submit("a", seconds=1, cost=16.0)], Approval(), [("approval", None, True)]),
    ("money approved by label", Policy(approval_above_cost=5, approval_label="qpu-ok"),
     [submit("a", cost=16.0)], LABELLED, []),
    ("money under the threshold", Policy(approval_above=50, approval_above_cost=20),
     [submit("a", cost=16.0)], Approval(), []),
    ("money and seconds limits together", Policy(max_cost_per_spec=10,
     max_qpu_seconds_per_pr=15, advisory=frozenset({"max_qpu_seconds_per_pr"})),
     [submit("a", cost=16.0), submit("b", cost=1.6)], Approval(),
     [("max_cost_per_spec", "a", True), ("max_qpu_seconds_per_pr", None, False)]),
    ("several at once", Policy(max_shots=500, max_qpu_seconds_per_spec=5,
                               advisory=frozenset({"max_qpu_seconds_per_spec"})),
     [submit("a")], Approval(),
     [("max_shots", "a", True), ("max_qpu_seconds_per_spec", "a", False)]),
]  # fmt: skip


@pytest.mark.parametrize(("policy", "actions", "approval", "expected"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])  # fmt: skip
def test_policy_table(
    policy: Policy, actions: list[Action], approval: Approval, expected: list[tuple]
) -> None:
    found = check(policy, actions, approval)
    assert [(v.rule, v.name, v.blocking) for v in found] == expected
    gated = enforce(actions, found)
    for before, after in zip(actions, gated, strict=True):
        hit = [v for v in found if v.blocking and v.name in (before.name, None)]
        if before.kind is Kind.SUBMIT and hit:
            assert after.kind is Kind.BLOCKED
            assert all(f"policy {v.rule}: {v.message}" in after.reason for v in hit)
        else:
            assert after == before


@pytest.mark.parametrize(
    ("text", "path", "owners"),
    [
        ("* @all\nspecs/ @lab\n", "specs/a.toml", ("lab",)),
        ("specs/ @lab\n* @all\n", "specs/a.toml", ("all",)),  # last match wins
        ("/specs/hw-*.toml @Hw-Team @bob # hardware\n", "specs/hw-fez.toml", ("hw-team", "bob")),
        ("/specs/hw-*.toml @hw\n", "specs/sim.toml", ()),
        ("*.toml @toml\n", "specs/x.toml", ("toml",)),
        ("# only a comment\n", "specs/x.toml", ()),
    ],
)
def test_codeowners(text: str, path: str, owners: tuple[str, ...]) -> None:
    assert codeowners(text)(path) == owners


def test_approval_from_reviews_needs_an_owner() -> None:
    approval = approval_from(["x"], ["Bob"], "specs/hw-*.toml @bob\n")
    assert approval.owner_approved("hw-fez") and not approval.owner_approved("sim")
    assert approval.labels == {"x"}


def test_policy_file_is_validated_with_positions(tmp_path: Path) -> None:
    assert load_policy(tmp_path) is None
    (tmp_path / POLICY_FILE).write_text(
        'allowed_targets = ["local:*"]\nmax_shots = 0\n[approval]\nlabel = "ok"\n'
    )
    with pytest.raises(SpecError) as err:
        load_policy(tmp_path)
    shown = [str(d) for d in err.value.diagnostics]
    assert any(d.startswith(f"{POLICY_FILE}:2:") and "minimum" in d for d in shown), shown
    assert any("above_qpu_seconds" in d and "above_cost" in d for d in shown), shown
    (tmp_path / POLICY_FILE).write_text(
        'max_shots = 100\nadvisory = ["max_shots"]\n[approval]\nabove_qpu_seconds = 30\n'
    )
    policy = load_policy(tmp_path)
    assert policy == Policy(max_shots=100, approval_above=30, advisory=frozenset({"max_shots"}))
    (tmp_path / POLICY_FILE).write_text(
        "max_cost_per_spec = 50\nmax_cost_per_pr = 200.5\n"
        'advisory = ["max_cost_per_pr"]\n[approval]\nabove_cost = 100\n'
    )
    assert load_policy(tmp_path) == Policy(
        max_cost_per_spec=50,
        max_cost_per_pr=200.5,
        approval_above_cost=100,
        advisory=frozenset({"max_cost_per_pr"}),
    )
    (tmp_path / POLICY_FILE).write_text("max_cost_per_spec = -1\n")
    with pytest.raises(SpecError, match=r":1:21: -1 is less than the minimum of 0"):
        load_policy(tmp_path)


HW = """name = "{name}"
[backend]
target = "ibm_fez"
[execution]
shots = 4000
[[circuits]]
name = "bell"
template = "bell"
"""


@pytest.fixture
def github() -> Iterator[GitHubStandIn]:
    yield from serve()


@pytest.fixture
def hardware_project(project: Path) -> Path:
    for p in (project / "specs").glob("*.toml"):
        p.unlink()
    (project / "specs" / "hw.toml").write_text(HW.format(name="hw"))
    return project


def test_apply_refuses_a_blocking_violation_and_says_why(
    hardware_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (hardware_project / POLICY_FILE).write_text('allowed_targets = ["local:*"]\n')
    assert main(["apply"]) == 0
    out = capsys.readouterr()
    assert "policy allowed_targets: target ibm_fez is not allowed (local:*)" in out.out
    assert not (hardware_project / "specs" / "hw.lock.toml").exists()  # nothing claimed


def test_merge_approval_is_read_from_the_merged_pull_request(
    hardware_project: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    github: GitHubStandIn,
) -> None:
    (hardware_project / POLICY_FILE).write_text(
        '[approval]\nabove_qpu_seconds = 1\nlabel = "qpu-ok"\n'
    )
    token = "ghs_standintoken000000000000000000000"
    for k, v in {"GITHUB_REPOSITORY": "octo/lab", "GITHUB_TOKEN": token, "GITHUB_SHA": "abc123",
                 "GITHUB_API_URL": github.url, "GITHUB_ACTIONS": "true"}.items():  # fmt: skip
        monkeypatch.setenv(k, v)
    route = ("GET", "/repos/octo/lab/commits/abc123/pulls")

    def plan() -> tuple[dict, str]:
        assert main(["plan", "--format", "json"]) == 0
        captured = capsys.readouterr()
        (action,) = json.loads(captured.out)["data"]
        return action, captured.err

    github.routes[route] = [{"number": 7, "merged_at": "2026-01-01T00:00:00Z", "labels": []}]
    action, err = plan()
    assert action["kind"] == "blocked" and "policy approval" in action["reason"]
    assert "::error file=qrun-policy.toml::qrun policy approval (blocking)" in err
    github.routes[route][0]["labels"] = [{"name": "qpu-ok"}]
    action, err = plan()
    assert action["kind"] == "submit", action
    assert all(r.headers["Authorization"] == f"Bearer {token}" for r in github.requests)
    assert token not in err


def test_the_plan_comment_lists_violations(
    hardware_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (hardware_project / POLICY_FILE).write_text(
        'max_shots = 1000\nallowed_targets = ["ibm_*"]\nadvisory = ["max_shots"]\n'
    )
    assert main(["plan", "--format", "markdown"]) == 0
    text = capsys.readouterr().out
    assert "policy: 0 blocking, 1 advisory" in text.splitlines()[0]
    assert "- ⚠️ advisory policy `max_shots` on **hw**: 4000 shots exceed max\\_shots = 1000" in text
    assert "- 🚀 submit **hw**" in text  # advisory only: still submitted


def test_a_money_limit_blocks_with_the_plans_own_cost(
    hardware_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The rule uses the estimate_cost plan shows (seconds x QRUN_PRICE_PER_QPU_SECOND)."""
    (hardware_project / POLICY_FILE).write_text("max_cost_per_spec = 0.5\n")
    assert main(["plan", "--format", "json"]) == 0
    (action,) = json.loads(capsys.readouterr().out)["data"]
    assert action["kind"] == "blocked" and action["estimate_cost"] > 0.5
    assert (
        f"policy max_cost_per_spec: estimated cost {action['estimate_cost']:.2f} exceeds "
        "max_cost_per_spec = 0.5" in action["reason"]
    )
    (hardware_project / POLICY_FILE).write_text(f"max_cost_per_spec = {action['estimate_cost']}\n")
    assert main(["plan", "--format", "json"]) == 0
    (action,) = json.loads(capsys.readouterr().out)["data"]
    assert action["kind"] == "submit"
