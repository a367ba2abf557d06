"""Per-PR policy rules and the QPU budget count the whole plan in every shard: two shards of
one apply on a real bare origin and the IBM Quantum emulator reach one verdict, whether they
start from the same origin state or one sees the other's pushed claims."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from runner.cli import main
from runner.policy import POLICY_FILE
from runner.shard import shard_of
from tests.conftest import git

HW = """name = "{name}"
[backend]
target = "ibm_fez"
[execution]
shots = 16000
[[circuits]]
name = "bell"
template = "bell"
"""  # estimated 2 s per job + 16000 shots x 250 µs = 6 QPU s (prior; no history)

QUEUED = [{"queued_polls": 50}]  # jobs stay queued: no usage is recorded during the test


def names_per_shard(count: int) -> list[str]:
    """count hardware specs for each of two shards (shard 1's first, then shard 2's)."""
    candidates = [f"hw-{i:02d}" for i in range(40)]
    mine = [[n for n in candidates if shard_of(n, 2) == k][:count] for k in (1, 2)]
    return mine[0] + mine[1]


def origin_with(tmp_path: Path, project: Path, names: list[str], policy: str = "") -> Path:
    """A bare origin holding hardware specs (and a policy file), pushed from project."""
    for p in (project / "specs").glob("*.toml"):
        p.unlink()
    for name in names:
        (project / "specs" / f"{name}.toml").write_text(HW.format(name=name))
    if policy:
        (project / POLICY_FILE).write_text(policy)
    (project / ".gitignore").write_text(".qrun/\n")
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(bare))
    git(project, "init", "--quiet", "--initial-branch=main")
    git(project, "add", "-A")
    git(project, "commit", "--quiet", "-m", "hardware specs")
    git(project, "remote", "add", "origin", str(bare))
    git(project, "push", "--quiet", "origin", "main")
    return bare


def run_shards(
    tmp_path: Path, bare: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any, push: bool
) -> list[list[dict]]:
    """Apply shards 1/2 and 2/2 one after the other, each in its own clone made before
    either ran: without push both plan from the same origin state; with push the second
    fetches the first's claims. Returns each shard's outcomes."""
    clones = []
    for k in (1, 2):
        git(tmp_path, "clone", "--quiet", str(bare), str(tmp_path / f"shard{k}"))
        clones.append(tmp_path / f"shard{k}")
    outcomes = []
    for k, where in enumerate(clones, 1):
        monkeypatch.chdir(where)
        mode = "--push" if push else "--commit"
        main(["apply", mode, "--shard", f"{k}/2", "--format", "json"])
        outcomes.append(json.loads(capsys.readouterr().out)["data"]["outcomes"])
    return outcomes


def runs_in(*clones: Path) -> dict[tuple[str, str], dict]:
    """Every run recorded in the clones' lock files, once each, by (spec, run id)."""
    return {
        (path.name, run["id"]): run
        for where in clones
        for path in sorted((where / "specs").glob("*.lock.toml"))
        for run in tomllib.loads(path.read_text())["runs"]
    }


POLICY = """max_qpu_seconds_per_pr = 10
[approval]
above_qpu_seconds = 8
label = "qpu-ok"
"""


@pytest.mark.parametrize("ibm_emulator", QUEUED, indirect=True)
def test_per_pr_rules_count_every_shard(
    project: Path, tmp_path: Path, ibm_emulator: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """The reviewer's case: each shard alone plans 6 s (under the 10 s cap and the 8 s
    approval threshold), the PR 12 s: both rules trigger, the same way in both shards."""
    names = names_per_shard(1)
    bare = origin_with(tmp_path, project, names, POLICY)
    outcomes = run_shards(tmp_path, bare, monkeypatch, capsys, push=True)
    for shard, name in zip(outcomes, names, strict=True):
        assert [(o["name"], o["action"]) for o in shard] == [(name, "blocked")], shard
    reasons = {o["detail"] for shard in outcomes for o in shard}
    assert len(reasons) == 1, reasons  # one verdict, word for word, in both shards
    (reason,) = reasons
    assert "policy max_qpu_seconds_per_pr: estimated 12 QPU s in all exceed" in reason
    assert "policy approval: estimated 12 QPU s exceed the approval threshold of 8 s" in reason
    assert ibm_emulator.submissions == 0
    assert runs_in(tmp_path / "shard1", tmp_path / "shard2") == {}  # nothing claimed


@pytest.mark.parametrize("ibm_emulator", QUEUED, indirect=True)
@pytest.mark.parametrize("push", [False, True], ids=["same origin state", "claims pushed first"])
def test_the_budget_is_shared_by_every_shard(
    project: Path,
    tmp_path: Path,
    ibm_emulator: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
    push: bool,
) -> None:
    """Budget 10 s, four 6 s specs, two per shard: each shard alone would submit one (12 s
    in all); counted over the whole plan, only the first by name fits, and a claim already
    pushed holds its estimate for the shard that plans after it."""
    monkeypatch.setenv("QRUN_QPU_SECONDS_BUDGET", "10")
    names = names_per_shard(2)
    bare = origin_with(tmp_path, project, names)
    outcomes = run_shards(tmp_path, bare, monkeypatch, capsys, push)
    first = min(names)
    acted = {o["name"]: o for shard in outcomes for o in shard}
    assert sorted(acted) == sorted(names)
    assert acted[first]["action"] == "submit" and acted[first]["status"] == "pending"
    blocked = {o["detail"] for n, o in acted.items() if n != first}
    assert {o["action"] for n, o in acted.items() if n != first} == {"blocked"}
    assert blocked == {"over budget: needs ~6 QPU s, 4 s left of 10 s in the rolling 28 days"}
    assert ibm_emulator.submissions == 1
    runs = runs_in(tmp_path / "shard1", tmp_path / "shard2").values()
    assert [r["status"] for r in runs] == ["queued"]
    assert sum(r["estimate_qpu_seconds"] for r in runs) <= 10
