"""Sharded applies: a stable split of the specs among N runners, the matrix plan emits, the
jittered push backoff, and six real runners pushing to one bare origin at the same moment."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from runner.cli import main
from runner.errors import GitError, UsageError
from runner.shard import MAX_MATRIX_JOBS, Shard, default_shards, matrix, shard_of
from runner.sync import Backoff
from tests.conftest import git

TINY = """name = "{name}"
[backend]
target = "local:aer"
[execution]
shots = 64
[[circuits]]
name = "bell"
template = "bell"
"""

NAMES = [f"sweep-{i:02d}" for i in range(18)]


# --- the pure parts --------------------------------------------------------------------


@pytest.mark.parametrize("text", ["3", "0/4", "5/4", "a/b", "1/257", "2/"])
def test_shard_parse_rejects_bad_input(text: str) -> None:
    with pytest.raises(UsageError, match="--shard"):
        Shard.parse(text)


def test_every_name_belongs_to_exactly_one_shard_and_stays_there() -> None:
    shards = [Shard.parse(f"{k}/6") for k in range(1, 7)]
    for name in NAMES:
        assert sum(s.owns(name) for s in shards) == 1
    # stable across processes: a fresh interpreter (another hash seed) agrees
    code = "from runner.shard import shard_of; print([shard_of(f'sweep-{i:02d}', 6) for i in range(18)])"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    other = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert json.loads(other.stdout) == [shard_of(n, 6) for n in NAMES]
    # adding specs never moves an existing one
    assert [shard_of(n, 6) for n in NAMES] == [shard_of(n, 6) for n in [*NAMES, "new"]][:18]


def test_matrix_lists_only_shards_with_work() -> None:
    doc = matrix(NAMES, 6)
    shards = [entry["shard"] for entry in doc["include"]]  # type: ignore[union-attr]
    assert shards == sorted(shards) and len(set(shards)) == len(shards)
    listed = [n for e in doc["include"] for n in e["specs"].split()]  # type: ignore[union-attr]
    assert sorted(listed) == NAMES
    for entry in doc["include"]:  # type: ignore[union-attr]
        owner = Shard.parse(entry["shard"])
        assert all(owner.owns(n) for n in entry["specs"].split())
    assert matrix([], 4) == {"include": []}
    with pytest.raises(UsageError):
        matrix(NAMES, MAX_MATRIX_JOBS + 1)


@pytest.mark.parametrize(
    ("work", "shards"), [(0, 1), (1, 1), (10, 1), (11, 2), (95, 10), (100_000, MAX_MATRIX_JOBS)]
)
def test_default_shards_follow_the_work(work: int, shards: int) -> None:
    assert default_shards(work) == shards


def test_backoff_is_jittered_and_bounded() -> None:
    backoff = Backoff(attempts=10, base=0.5, cap=2.0)
    rng = random.Random(7)
    waits = [[backoff.delay(a, rng) for _ in range(200)] for a in range(10)]
    assert all(0 <= w <= min(2.0, 0.5 * 2**a) for a, ws in enumerate(waits) for w in ws)
    assert len({round(w, 6) for w in waits[5]}) > 150  # spread out, not in lockstep
    assert max(waits[0]) <= 0.5 < max(waits[5])
    env = {"QRUN_PUSH_ATTEMPTS": "3", "QRUN_PUSH_BACKOFF_MAX": "0.5"}
    assert Backoff.from_env(env.get) == Backoff(attempts=3, cap=0.5)
    with pytest.raises(GitError, match="QRUN_PUSH_ATTEMPTS"):
        Backoff.from_env({"QRUN_PUSH_ATTEMPTS": "many"}.get)


def test_plan_json_carries_a_ready_matrix(project: Path, capsys: pytest.CaptureFixture) -> None:
    for p in (project / "specs").glob("*.toml"):
        p.unlink()
    for name in NAMES[:5]:
        (project / "specs" / f"{name}.toml").write_text(TINY.format(name=name))
    assert main(["plan", "--format", "json", "--shards", "3"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {e["shard"].split("/")[1] for e in doc["matrix"]["include"]} == {"3"}
    assert sorted(n for e in doc["matrix"]["include"] for n in e["specs"].split()) == NAMES[:5]
    assert main(["plan", "--format", "json"]) == 0  # default: one runner for five specs
    assert json.loads(capsys.readouterr().out)["matrix"]["include"][0]["shard"] == "1/1"
    owner = doc["matrix"]["include"][0]
    assert main(["plan", "--format", "json", "--shard", owner["shard"]]) == 0
    planned = {a["name"] for a in json.loads(capsys.readouterr().out)["data"]}
    assert planned == set(owner["specs"].split())


# --- six runners, one origin -------------------------------------------------------------


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "QRUN_", "COS_"))}
    env.update(
        {
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_CONFIG_NOSYSTEM": "1",
            "CI": "true",
            "QRUN_PUSH_ATTEMPTS": "40",
            "QRUN_PUSH_BACKOFF_MAX": "1",  # short caps keep the test quick
            "OMP_NUM_THREADS": "1",
        }
    )
    return env


def _qrun(cwd: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "runner", *args],
        cwd=cwd,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_six_shards_at_once_then_one_unsharded_apply(tmp_path: Path) -> None:
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(bare))
    author = tmp_path / "author"
    git(tmp_path, "init", "--quiet", "--initial-branch=main", str(author))
    (author / "specs").mkdir()
    for name in NAMES:
        (author / "specs" / f"{name}.toml").write_text(TINY.format(name=name))
    (author / ".gitignore").write_text(".qrun/\n")
    git(author, "add", "-A")
    git(author, "commit", "--quiet", "-m", "eighteen small sweeps")
    git(author, "remote", "add", "origin", str(bare))
    git(author, "push", "--quiet", "origin", "main")
    clones = []
    for k in range(1, 7):
        git(tmp_path, "clone", "--quiet", str(bare), str(tmp_path / f"shard{k}"))
        clones.append(tmp_path / f"shard{k}")
    procs = [_qrun(c, "apply", "--push", "--shard", f"{k}/6") for k, c in enumerate(clones, 1)]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, outputs
    assert any("push rejected" in o for o in outputs), "the runners never collided"
    on_origin = git(bare, "ls-tree", "-r", "--name-only", "main").splitlines()
    assert "reports/README.md" not in on_origin  # shards leave the dashboard to the final job
    assert {f"reports/{n}.md" for n in NAMES} <= set(on_origin)  # each page by its shard
    final = tmp_path / "final"
    git(tmp_path, "clone", "--quiet", str(bare), str(final))
    done = _qrun(final, "apply", "--push")
    out = done.communicate(timeout=300)[0]
    assert done.returncode == 0, out
    for name in NAMES:
        lock = tomllib.loads(git(bare, "show", f"main:specs/{name}.lock.toml"))
        assert [r["status"] for r in lock["runs"]] == ["completed"], name
    dashboard = git(bare, "show", "main:reports/README.md")
    assert all(f"[{name}]" in dashboard for name in NAMES), dashboard
    assert git(final, "status", "--porcelain") == ""
