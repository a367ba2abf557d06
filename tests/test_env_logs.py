"""`.env` at the repository root, and structured (JSON) logs on stderr."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.cli import main
from runner.config import Config
from runner.errors import QrunError
from runner.output import EventLog, configure_logs
from tests.conftest import ROOT, git
from tests.test_dashboard import BROKEN as INVALID

TOKEN = "tok-3f9a1c77e2b54d0e9c1b"  # a made-up credential; it must never be printed


@pytest.fixture(autouse=True)
def _text_logs_after() -> Iterator[None]:
    yield
    configure_logs(None, {})  # the event log is per command: do not leak JSON mode


@pytest.fixture
def small(project: Path) -> Path:
    """bell plus an invalid spec: the smallest apply that has both a run and a problem."""
    for spec in project.glob("specs/*.toml"):
        if spec.stem != "bell":
            spec.unlink()
    (project / "specs/broken.toml").write_text(INVALID)
    return project


def test_dotenv_is_read_and_the_process_environment_wins(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / ".env").write_text("QRUN_QPU_SECONDS_BUDGET=1234\nQRUN_MAX_PENDING_JOBS=7\n")
    config = Config.load(None)
    assert config.limits.qpu_seconds_budget == 1234
    assert config.limits.max_pending_jobs == 7
    monkeypatch.setenv("QRUN_MAX_PENDING_JOBS", "2")
    assert Config.load(None).limits.max_pending_jobs == 2


def test_dotenv_budget_reaches_the_dashboard(small: Path) -> None:
    (small / ".env").write_text("QRUN_QPU_SECONDS_BUDGET=1234\n")
    assert main(["apply"]) == 1  # the invalid spec makes it an expected failure
    assert "of 1234 s" in (small / "reports/README.md").read_text()


def test_the_shipped_gitignore_ignores_dotenv(tmp_path: Path) -> None:
    git(tmp_path, "init")
    (tmp_path / ".gitignore").write_text((ROOT / ".gitignore").read_text())
    assert git(tmp_path, "check-ignore", ".env") == ".env"


def test_a_tracked_dotenv_holding_a_secret_is_refused(project: Path) -> None:
    (project / ".env").write_text(f"IBM_QUANTUM_TOKEN={TOKEN}\n")
    git(project, "init")
    assert Config.load(None).environ["IBM_QUANTUM_TOKEN"] == TOKEN  # untracked: fine
    git(project, "add", "-f", ".env")
    with pytest.raises(QrunError) as err:
        Config.load(None)
    message = str(err.value)
    assert "remove it from git" in message and "rotate" in message
    assert "IBM_QUANTUM_TOKEN" in message and TOKEN not in message


def test_a_tracked_dotenv_without_secrets_is_allowed(project: Path) -> None:
    (project / ".env").write_text("QRUN_QPU_SECONDS_BUDGET=50\n")
    git(project, "init")
    git(project, "add", "-f", ".env")
    assert Config.load(None).limits.qpu_seconds_budget == 50


def _json_lines(text: str) -> list[dict]:
    lines = [line for line in text.splitlines() if line]
    assert lines, "expected events on stderr"
    return [json.loads(line) for line in lines]  # fails on any line that is not JSON


def test_json_logs_put_only_json_events_on_stderr(
    small: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IBM_QUANTUM_TOKEN", TOKEN)  # present, unused by local targets
    (small / ".env").write_text("QRUN_LOG_FORMAT=json\n")
    assert main(["apply"]) == 1
    captured = capsys.readouterr()
    events = _json_lines(captured.err)
    assert all({"time", "level", "event"} <= e.keys() for e in events)
    problem = next(e for e in events if e["event"] == "spec.problem")
    assert problem["level"] == "error" and problem["file"] == "specs/broken.toml"
    assert problem["line"] == 5
    (submit,) = [e for e in events if e["event"] == "run.submit"]
    assert submit["spec"] == "bell" and submit["status"] == "done"
    assert submit["run_id"].startswith("0001-") and submit["backend"] == "fake_fez"
    assert len(submit["job_ids"]) == 1 and submit["duration_seconds"] >= 0
    assert TOKEN not in captured.err + captured.out


def test_log_format_flag_wins_and_errors_are_events(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / ".env").write_text("QRUN_LOG_FORMAT=text\n")
    assert main(["--log-format", "json", "pull", "nosuch"]) == 2
    (event,) = _json_lines(capsys.readouterr().err)
    assert event["event"] == "command.failed" and "unknown experiment" in event["message"]
    assert main(["pull", "nosuch"]) == 2  # text again: one plain line
    assert capsys.readouterr().err.startswith("qrun: error: unknown experiment")


def test_secrets_are_masked_in_both_formats() -> None:
    for fmt in ("text", "json"):
        stream = io.StringIO()
        log = EventLog(fmt, stream, secrets=[TOKEN])
        log.emit("error", "command.failed", f"auth failed with {TOKEN}", detail=TOKEN)
        assert TOKEN not in stream.getvalue() and "***" in stream.getvalue()


def test_library_warnings_become_json_events(capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    configure_logs("json", {})
    logging.getLogger("some.library").warning("disk nearly full")
    (event,) = _json_lines(capsys.readouterr().err)
    assert event["event"] == "library.log" and event["message"] == "disk nearly full"
