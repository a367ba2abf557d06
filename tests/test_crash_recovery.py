"""A runner killed (SIGKILL, in a real subprocess) between its commit and its push, or inside
the atomic writer, leaves nothing that blocks or pollutes the next apply. Real git, bare origin.

The kills use qrun's documented test hook QRUN_CRASH_AT (runner/crashpoint.py).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from runner.files import TEMP_SUFFIX, is_temp, remove_stray_temps
from tests.conftest import git

TINY = """name = "{name}"
[backend]
target = "local:aer"
[execution]
shots = 100
[[circuits]]
name = "bell"
template = "bell"
"""


def runner_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "QRUN_", "COS_"))}
    env.update({"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "CI": "true"})
    env.update(extra)
    return env


def qrun(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runner", *args],
        cwd=cwd,
        env=runner_env(**env),
        capture_output=True,
        text=True,
        timeout=240,
    )


@pytest.fixture
def tiny_origin(origin_and_clone: tuple[Path, Path]) -> tuple[Path, Path]:
    """The origin with one small noiseless spec, so each apply is quick."""
    bare, work = origin_and_clone
    for spec in (work / "specs").glob("*.toml"):
        spec.unlink()
    (work / "specs" / "tiny.toml").write_text(TINY.format(name="tiny"))
    git(work, "add", "-A")
    git(work, "commit", "-m", "one tiny spec")
    git(work, "push", "--quiet", "origin", "main")
    return bare, work


def origin_lock(bare: Path, name: str) -> dict:
    return tomllib.loads(git(bare, "show", f"main:specs/{name}.lock.toml"))


def killed(done: subprocess.CompletedProcess[str]) -> bool:
    return done.returncode == -signal.SIGKILL


@pytest.mark.parametrize("moved_on", [False, True], ids=["origin-still", "origin-moved"])
def test_bot_commits_left_unpushed_by_a_kill_are_published(
    tiny_origin: tuple[Path, Path], tmp_path: Path, moved_on: bool
) -> None:
    bare, work = tiny_origin
    # the fourth push (claim, lease renewal, job ids, results): results committed, killed
    # before they reach origin
    first = qrun(work, "apply", "--push", QRUN_CRASH_AT="push@4")
    assert killed(first), first.stdout + first.stderr
    assert origin_lock(bare, "tiny")["runs"][0]["status"] != "completed"
    ahead = git(work, "rev-list", "--count", "origin/main..HEAD")
    assert int(ahead) >= 1
    if moved_on:  # meanwhile a person pushes: the bot commits must be replayed on top
        other = tmp_path / "other"
        git(tmp_path, "clone", "--quiet", str(bare), str(other))
        (other / "notes.md").write_text("a person's change\n")
        git(other, "add", "notes.md")
        git(other, "commit", "-m", "notes")
        git(other, "push", "--quiet", "origin", "main")
    second = qrun(work, "apply", "--push")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "unpushed qrun commit(s)" in second.stdout
    (run,) = origin_lock(bare, "tiny")["runs"]
    assert run["status"] == "completed"
    if moved_on:
        assert git(bare, "show", "main:notes.md") == "a person's change"
    assert git(work, "rev-list", "--count", "origin/main..HEAD") == "0"
    assert git(work, "status", "--porcelain") == ""


def test_a_persons_unpushed_commit_still_blocks_after_bot_commits(
    tiny_origin: tuple[Path, Path],
) -> None:
    bare, work = tiny_origin
    assert killed(qrun(work, "apply", "--push", QRUN_CRASH_AT="push@3"))
    (work / "notes.md").write_text("mine\n")
    git(work, "add", "notes.md")
    git(work, "commit", "-m", "my notes")
    before = git(bare, "rev-parse", "main")
    done = qrun(work, "apply", "--push")
    assert done.returncode == 1
    assert "1 not made by qrun" in done.stderr
    assert git(bare, "rev-parse", "main") == before
    assert (work / "notes.md").exists()


def test_a_bot_commit_touching_a_spec_is_not_taken_for_qruns(
    tiny_origin: tuple[Path, Path],
) -> None:
    """Author and [skip ci] are easy to copy: the files touched decide too."""
    _bare, work = tiny_origin
    spec = work / "specs" / "tiny.toml"
    spec.write_text(spec.read_text().replace("shots = 100", "shots = 200"))
    git(work, "add", "specs/tiny.toml")
    subprocess.run(
        ["git", "commit", "-q", "-m", "qrun: sneaky [skip ci]"],
        cwd=work,
        check=True,
        env=runner_env(
            GIT_AUTHOR_NAME="qrun-bot",
            GIT_AUTHOR_EMAIL="qrun-bot@users.noreply.github.com",
            GIT_COMMITTER_NAME="qrun-bot",
            GIT_COMMITTER_EMAIL="qrun-bot@users.noreply.github.com",
        ),
    )
    done = qrun(work, "apply", "--push")
    assert done.returncode == 1
    assert "not made by qrun" in done.stderr


@pytest.mark.parametrize("target", ["specs/tiny.lock.toml", "reports/tiny.md"])
def test_a_kill_inside_the_atomic_writer_leaves_nothing_behind(
    tiny_origin: tuple[Path, Path], target: str
) -> None:
    bare, work = tiny_origin
    first = qrun(work, "apply", "--push", QRUN_CRASH_AT=f"write:{Path(target).name}")
    assert killed(first), first.stdout + first.stderr
    strays = [
        p
        for p in (work / Path(target).parent).iterdir()
        if p.name.startswith(f".{Path(target).name}.")
    ]
    assert strays, "the kill should have left the writer's temp file"
    second = qrun(work, "apply", "--push")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "left by a killed qrun" in second.stdout
    assert not any(p.exists() for p in strays)
    tracked = git(bare, "ls-tree", "-r", "--name-only", "main").splitlines()
    assert [p for p in tracked if is_temp(p) or TEMP_SUFFIX in p] == []
    assert origin_lock(bare, "tiny")["runs"][0]["status"] == "completed"
    assert git(work, "status", "--porcelain", "--untracked-files=all") == ""


def test_a_live_writers_temp_file_is_left_alone(tmp_path: Path) -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = tmp_path / f".a.md.abcdefgh.{sleeper.pid}{TEMP_SUFFIX}"
        live.write_text("in flight")
        dead_pid = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                                  capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
        dead = tmp_path / f".b.md.abcdefgh.{dead_pid}{TEMP_SUFFIX}"
        dead.write_text("orphan")
        assert remove_stray_temps(tmp_path) == [dead]
        assert live.exists() and not dead.exists()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_sigterm_unwinds_qrun_like_ctrl_c(tiny_origin: tuple[Path, Path]) -> None:
    """A cancelled CI job sends SIGTERM: qrun runs its cleanups and exits 130, not -15.

    The store endpoint accepts connections and never answers, so qrun is caught mid-request."""
    _bare, work = tiny_origin
    silent = socket.create_server(("127.0.0.1", 0))
    silent.settimeout(120)
    env = {
        "COS_ENDPOINT": f"http://127.0.0.1:{silent.getsockname()[1]}",
        "COS_HMAC_ACCESS_KEY_ID": "testing",
        "COS_HMAC_SECRET_ACCESS_KEY": "testing-secret",
        "COS_READ_TIMEOUT": "60",
        "COS_MAX_ATTEMPTS": "1",
    }
    child = subprocess.Popen(
        [sys.executable, "-m", "runner", "apply", "--no-push"],
        cwd=work,
        env=runner_env(**env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        connection, _ = silent.accept()  # qrun is now waiting for an answer
        child.send_signal(signal.SIGTERM)
        _, err = child.communicate(timeout=60)
        connection.close()
    finally:
        silent.close()
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 130, err
    assert "qrun: interrupted" in err
    strays = [p for p in work.rglob(f"*{TEMP_SUFFIX}")]
    assert strays == []
