"""Shared fixtures. Every outside system is a real protocol peer on 127.0.0.1; an autouse
guard makes any accidental connection elsewhere (or a DNS lookup of a real host) fail loudly.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = ["tests.ibm_emulator.plugin", "tests.s3_fixtures"]

ROOT = Path(__file__).resolve().parent.parent
LOCAL_NAMES = {"localhost", "127.0.0.1", "::1", ""}


def _is_local(host: object) -> bool:
    if not isinstance(host, str):
        return True
    if host in LOCAL_NAMES or host.endswith(".emu"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def _no_terminal_width(monkeypatch: pytest.MonkeyPatch) -> None:
    """pytest-xdist workers export COLUMNS=80, and qrun's plain tables fit COLUMNS: a test
    reading a table would see it cut. Tests about the width set COLUMNS themselves."""
    monkeypatch.delenv("COLUMNS", raising=False)


@pytest.fixture(autouse=True)
def _outside_network_forbidden(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any connection or name lookup that would leave the machine."""
    real_connect = socket.socket.connect
    real_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: object) -> object:
        if isinstance(address, tuple) and not _is_local(address[0]):
            raise AssertionError(f"test tried to reach {address!r}: only 127.0.0.1 is allowed")
        return real_connect(self, address)  # type: ignore[arg-type]

    def getaddrinfo(host: object, *args: object, **kwargs: object) -> object:
        if not _is_local(host):
            raise AssertionError(f"test tried to resolve {host!r}: only 127.0.0.1 is allowed")
        return real_getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(var, raising=False)


def git(cwd: Path, *args: str) -> str:
    """Run git in cwd with an isolated identity and no global config."""
    env = {
        **os.environ,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Test Person",
        "GIT_AUTHOR_EMAIL": "person@example.test",
        "GIT_COMMITTER_NAME": "Test Person",
        "GIT_COMMITTER_EMAIL": "person@example.test",
    }
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh repository root with the example specs, outside git; cwd set to it."""
    root = tmp_path / "project"
    shutil.copytree(ROOT / "specs", root / "specs", ignore=shutil.ignore_patterns("*.lock.toml"))
    (root / "reports").mkdir()
    monkeypatch.chdir(root)
    for var in [
        v for v in os.environ if v.startswith(("COS_", "IBM_QUANTUM_", "QRUN_", "GITHUB_"))
    ]:
        monkeypatch.delenv(var)
    monkeypatch.delenv("CI", raising=False)
    return root


@pytest.fixture
def origin_and_clone(project: Path, tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A bare origin holding the example project on main, and a working clone of it."""
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "--bare", "--initial-branch=main", str(bare))
    git(project, "init", "--initial-branch=main")
    (project / ".gitignore").write_text(".qrun/\n")
    git(project, "add", "-A")
    git(project, "commit", "-m", "example specs")
    git(project, "remote", "add", "origin", str(bare))
    git(project, "push", "-u", "origin", "main")
    yield bare, project
