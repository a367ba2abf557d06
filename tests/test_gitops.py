"""GitOps: apply commits and pushes its own files, claims runs through the push, and
concurrent runners never submit the same run twice. Real git, bare origins in tmp dirs."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from runner.cli import main
from tests.conftest import git

BELL_HW = """name = "{name}"
[backend]
target = "ibm_fez"
[execution]
shots = 500
[[circuits]]
name = "bell"
template = "bell"
"""


def clone(bare: Path, where: Path) -> Path:
    git(where.parent, "clone", "--quiet", str(bare), str(where))
    return where


def origin_log(bare: Path) -> list[str]:
    return git(bare, "log", "--format=%an|%s", "main").splitlines()


def origin_file(bare: Path, path: str) -> str:
    return git(bare, "show", f"main:{path}")


def runner_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "QRUN_", "COS_"))}
    env.update({"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "CI": "true"})
    env.update(extra or {})
    return env


def test_apply_push_commits_locks_and_reports_as_the_bot(origin_and_clone, monkeypatch) -> None:
    bare, work = origin_and_clone
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    assert main(["apply", "--push"]) == 0
    log = origin_log(bare)
    author, subject = log[0].split("|", 1)
    assert author == "qrun-bot"
    assert subject.startswith("qrun: ") and "[skip ci]" in subject
    assert "bell" in git(bare, "log", "-1", "--format=%B", "main")
    assert 'status = "completed"' in origin_file(bare, "specs/bell.lock.toml")
    assert "# qrun experiments" in origin_file(bare, "reports/README.md")
    assert git(work, "status", "--porcelain") == ""  # everything it wrote is committed
    # a second apply has nothing to do and makes no commit
    before = len(origin_log(bare))
    assert main(["apply", "--push"]) == 0
    assert len(origin_log(bare)) == before


def test_without_push_changes_stay_in_the_working_tree(origin_and_clone) -> None:
    _bare, work = origin_and_clone
    head = git(work, "rev-parse", "HEAD")
    assert main(["apply"]) == 0
    assert git(work, "rev-parse", "HEAD") == head
    assert "specs/bell.lock.toml" in git(work, "status", "--porcelain", "--untracked-files=all")


def test_no_push_wins_over_ci(origin_and_clone, monkeypatch) -> None:
    bare, _work = origin_and_clone
    monkeypatch.setenv("CI", "true")
    before = origin_log(bare)
    assert main(["apply", "--no-push"]) == 0
    assert origin_log(bare) == before


def test_refuses_to_commit_over_a_persons_uncommitted_work(origin_and_clone, capsys) -> None:
    bare, work = origin_and_clone
    spec = work / "specs" / "bell.toml"
    spec.write_text(spec.read_text() + "\n# work in progress\n")
    assert main(["apply", "--push"]) == 1
    assert "specs/bell.toml" in capsys.readouterr().err
    assert len(origin_log(bare)) == 1


def test_push_rejected_is_replayed_on_top_of_the_remote(
    origin_and_clone, tmp_path, monkeypatch
) -> None:
    bare, _work = origin_and_clone
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    other = clone(bare, tmp_path / "other")
    (other / "notes.md").write_text("someone else's change\n")
    git(other, "add", "notes.md")
    git(other, "commit", "-m", "unrelated change")
    git(other, "push", "--quiet", "origin", "main")
    # our clone is now behind; apply must catch up and push without losing either side
    assert main(["apply", "--push"]) == 0
    assert origin_file(bare, "notes.md") == "someone else's change"
    assert 'status = "completed"' in origin_file(bare, "specs/bell.lock.toml")


@pytest.mark.parametrize("ibm_emulator", [{"queued_polls": 1, "running_polls": 0}], indirect=True)
def test_two_runners_at_once_submit_a_new_spec_exactly_once(
    origin_and_clone, ibm_emulator, tmp_path
) -> None:
    bare, work = origin_and_clone
    for p in (work / "specs").glob("*.toml"):
        p.unlink()
    (work / "specs" / "hw.toml").write_text(BELL_HW.format(name="hw"))
    git(work, "add", "-A")
    git(work, "commit", "-m", "hardware spec")
    git(work, "push", "--quiet", "origin", "main")
    runners = [clone(bare, tmp_path / f"runner{i}") for i in range(2)]
    env = runner_env(ibm_emulator.client_env())
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "runner", "apply", "--push"],
            cwd=r,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for r in runners
    ]
    outputs = [p.communicate(timeout=240)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    assert ibm_emulator.submissions == 1, outputs
    lock = tomllib.loads(origin_file(bare, "specs/hw.lock.toml"))
    (run,) = lock["runs"]
    assert len(run["jobs"]) == 1
    assert any("claimed by another runner" in o or "backing off" in o for o in outputs) or any(
        "adopted" in o for o in outputs
    ), outputs
    # both runners converge: later applies collect the single job and agree on the history
    for r in runners:
        done = subprocess.run(
            [sys.executable, "-m", "runner", "apply", "--push"],
            cwd=r,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert done.returncode == 0, done.stdout + done.stderr
    for r in runners:
        git(r, "pull", "--quiet", "--ff-only")
    final = tomllib.loads(origin_file(bare, "specs/hw.lock.toml"))
    assert [r["id"] for r in final["runs"]] == [run["id"]]
    assert final["runs"][0]["status"] == "completed"
    assert ibm_emulator.submissions == 1


def test_refuses_to_push_a_persons_unpushed_commits(origin_and_clone, capsys) -> None:
    bare, work = origin_and_clone
    (work / "specs" / "mine.toml").write_text(
        (work / "specs" / "bell.toml").read_text().replace('name = "bell"', 'name = "mine"')
    )
    git(work, "add", "specs/mine.toml")
    git(work, "commit", "-m", "my unreviewed spec")
    assert main(["apply", "--push"]) == 1
    assert "not on origin/main" in capsys.readouterr().err
    assert len(origin_log(bare)) == 1  # nothing pushed
    assert (work / "specs" / "mine.toml").exists()  # and nothing of theirs was reset away


def test_a_fresh_checkout_without_the_store_keeps_committed_results(
    origin_and_clone, tmp_path, monkeypatch, capsys
) -> None:
    bare, _work = origin_and_clone
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    assert main(["apply", "--push"]) == 0
    fresh = clone(bare, tmp_path / "fresh")  # a new CI runner: no .qrun/store
    monkeypatch.chdir(fresh)
    page = (fresh / "reports" / "bell.md").read_text()
    assert "## Results of run" in page
    spec = fresh / "specs" / "bell.toml"
    spec.write_text(spec.read_text().replace("noisy Heron", "noisy IBM Heron"))
    git(fresh, "commit", "-qam", "reword the description")
    capsys.readouterr()
    assert main(["apply", "--no-push"]) == 0
    assert "kept the committed report" in capsys.readouterr().out
    assert (fresh / "reports" / "bell.md").read_text() == page  # results not wiped
