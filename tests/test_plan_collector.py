"""qrun plan pauses the cyclic garbage collector while it reads specs and locks and freezes
them for the rest of the command: afterwards the collector is as the caller left it and
nothing stays frozen (tests and other in-process callers run many commands)."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from runner.cli import main
from tests.test_crash_recovery import TINY


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "repo"
    (root / "specs").mkdir(parents=True)
    (root / "specs" / "tiny.toml").write_text(TINY.format(name="tiny"))
    (root / "specs" / "broken.toml").write_text('name = "broken"\n[backend]\n')
    monkeypatch.chdir(root)
    for var in ("CI", "GITHUB_ACTIONS", "IBM_QUANTUM_TOKEN", "COS_ENDPOINT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("QRUN_NOW", "2026-01-05T00:00:00Z")
    return root


@pytest.mark.parametrize("enabled", [True, False])
def test_plan_leaves_the_collector_as_it_found_it(repo: Path, enabled: bool) -> None:
    (gc.enable if enabled else gc.disable)()
    try:
        assert main(["plan"]) == 1  # the broken spec is reported; the tiny one planned
        assert main(["apply", "--dry-run"]) == 1
        assert gc.isenabled() is enabled
        assert gc.get_freeze_count() == 0
    finally:
        gc.enable()


def test_a_plan_that_stops_on_a_usage_error_unfreezes_too(repo: Path) -> None:
    assert main(["plan", "--only", "no-such-spec"]) == 2
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0
