"""The plan and the CLI: preview in text and JSON, retry with nothing to retry, apply's JSON
carrying alerts and warnings, help for every argument, plurals."""

from __future__ import annotations

import argparse
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from runner.cli import _parser, main
from runner.output import Output, plural


def only(project: Path, *names: str) -> None:
    for spec in project.glob("specs/*.toml"):
        if spec.stem not in names:
            spec.unlink()


def test_plan_preview_shows_the_simulation_in_text_and_json(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    only(project, "bell", "qaoa-ring")
    assert main(["plan"]) == 0
    plain = capsys.readouterr().out
    assert main(["plan", "--preview"]) == 0
    text = capsys.readouterr().out
    assert text != plain
    assert "    ideal: 00 0.50, 11 0.50" in text
    assert "noisy preview: 00 0." in text  # bell targets local:fake_fez
    assert "ideal expectation values: ⟨IIZZ⟩ = +0.466" in text  # estimator: ideal ⟨O⟩
    assert "1 two-qubit gate" in text and "Plan: 2 actions to apply" in text
    assert main(["plan", "--preview", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    by_name = {a["name"]: a for a in doc["data"]}
    (ring,) = by_name["qaoa-ring"]["circuits_preview"]
    assert ring["ideal_expectation_values"]["IIZZ"] == pytest.approx(0.466, abs=1e-3)
    (bell,) = by_name["bell"]["circuits_preview"]
    assert bell["ideal"] == pytest.approx({"00": 0.5, "11": 0.5})


def test_retry_of_a_completed_run_says_there_is_nothing_to_retry(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    only(project, "bell")
    assert main(["retry", "bell"]) == 1
    assert "bell has no runs: nothing to retry" in capsys.readouterr().err
    assert main(["apply"]) == 0
    lock = (project / "specs/bell.lock.toml").read_bytes()
    capsys.readouterr()
    assert main(["retry", "bell"]) == 1
    err = capsys.readouterr().err
    assert "nothing to retry: the last run of bell did not fail" in err and "completed" in err
    assert (project / "specs/bell.lock.toml").read_bytes() == lock  # nothing submitted


def test_apply_json_carries_drift_alerts_and_warnings(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    only(project, "bell")
    spec = project / "specs/bell.toml"
    text = spec.read_text()
    assert "fidelity_threshold = 0.85" in text
    spec.write_text(text.replace("fidelity_threshold = 0.85", "fidelity_threshold = 0.999"))
    assert main(["apply", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    (alert,) = doc["data"]["alerts"]
    assert alert["spec"] == "bell" and "below the threshold 0.999" in alert["message"]
    assert doc["data"]["warnings"] == []


def _actions(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.Action]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += [(f"{name} {n}", a) for n, a in _actions(sub)]
        elif not isinstance(action, argparse._HelpAction):
            found.append((parser.prog, action))
    return found


def test_every_argument_has_help_and_format_explains_each_choice() -> None:
    actions = _actions(_parser())
    assert len(actions) > 40
    missing = [(where, a.dest) for where, a in actions if not a.help]
    assert missing == []
    for where, action in actions:
        if action.dest == "format":
            for choice in action.choices or ():
                assert f"{choice}: " in (action.help or ""), where


def test_plurals() -> None:
    assert plural(1, "circuit") == "1 circuit" and plural(3, "circuit") == "3 circuits"
    assert plural(2, "entry") == "2 entries" and plural(0, "active experiment") == (
        "0 active experiments"
    )  # fmt: skip
    assert plural(2, "job") == "2 jobs" and plural(2, "pass") == "2 passes"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_names_the_work_when_it_starts() -> None:
    stream = _Terminal()
    out = Output(stream=stream, environ={})
    assert out.fancy
    with out.progress("apply", 3, 1) as step:
        step("submit bell")
        step("submit bell: transpile 2 circuits", 1)
        step("submit bell", 2, True)
    shown = stream.getvalue()
    assert "apply submit bell" in shown and "transpile 2 circuits" in shown  # named at once
    plain = io.StringIO()
    with Output(stream=plain, environ={"CI": "true"}).progress("apply", 3, 1) as step:
        step("submit bell")  # plain lines: only finished work, one line per action
        step("submit bell: transpile 2 circuits", 1)
        step("submit bell", 2, True)
    assert plain.getvalue() == "apply [1/1] submit bell\n"


class _Recording(Output):
    """Output that keeps the progress events an apply sends (its bar is not drawn)."""

    def __init__(self) -> None:
        super().__init__(stream=io.StringIO(), environ={})
        self.events: list[tuple[str, int, bool]] = []
        self.totals: tuple[int, int] | None = None

    @contextmanager
    def progress(self, description: str, total: int, items: int) -> Iterator[Any]:
        self.totals = (total, items)
        yield lambda label, advance=0, done=False: self.events.append((label, advance, done))


def test_apply_progress_advances_through_each_run_s_phases(project: Path) -> None:
    from runner.config import Config
    from runner.pipeline import apply
    from runner.spec.loader import load_spec

    only(project, "ghz-sweep", "qft4")
    n = len(load_spec(project / "specs/ghz-sweep.toml", project).circuits)
    out = _Recording()
    apply(Config.load(str(project)), out)
    assert out.totals == (13, 2)  # six phases per submission, one for the reports
    assert [label for label, _, _ in out.events] == [
        "submit ghz-sweep",
        f"submit ghz-sweep: build {n} circuits",
        f"submit ghz-sweep: transpile {n} circuits for aer_simulator",
        f"submit ghz-sweep: simulate {n} circuits (noiseless)",
        "submit ghz-sweep: store circuits and ideals",
        "submit ghz-sweep: collect 1 job",
        f"submit ghz-sweep: analyse {n} circuits",
        "submit ghz-sweep",
        "submit qft4",
        "submit qft4: build 1 circuit",
        "submit qft4: transpile 1 circuit for aer_simulator",
        "submit qft4: simulate 1 circuit (noiseless)",
        "submit qft4: store circuits and ideals",
        "submit qft4: collect 1 job",
        "submit qft4: analyse 1 circuit",
        "submit qft4",
        "render reports",
        "render reports",
    ]
    moves = [advance for _, advance, _ in out.events]
    assert moves == [0, 0, 1, 1, 1, 1, 1, 1] * 2 + [0, 1]  # each phase once, none skipped
    assert sum(moves) == out.totals[0]
    assert [label for label, _, done in out.events if done] == ["submit ghz-sweep", "submit qft4"]


def test_a_run_still_queued_or_batched_moves_the_bar_honestly() -> None:
    from runner.plan import Action, Kind
    from runner.progress import ApplyProgress

    events: list[tuple[str, int, bool]] = []
    progress = ApplyProgress(lambda label, advance, done: events.append((label, advance, done)))
    submit = Action(Kind.SUBMIT, "qv", "300 circuits")
    assert ApplyProgress.total([submit]) == 7
    progress.begin(submit)
    progress.phase("transpile", "transpile 300 circuits")  # build was skipped: counted done
    progress.phase("run", "submit job 1/2")
    progress.phase("run", "submit job 2/2")  # the next job of the batch: a new label only
    progress.phase("collect", "collect 2 jobs")
    progress.end()  # still queued: no analysis in this apply
    assert events == [("submit qv", 0, False), ("submit qv: transpile 300 circuits", 1, False),
                      ("submit qv: submit job 1/2", 1, False),
                      ("submit qv: submit job 2/2", 0, False),
                      ("submit qv: collect 2 jobs", 2, False), ("submit qv", 2, True)]  # fmt: skip
    assert sum(a for _, a, _ in events) == 6  # the action's share; the reports take the 7th
    with progress.rendering():
        assert events[-1] == ("render reports", 0, False)  # named while it runs
    assert events[-1] == ("render reports", 1, False)


def test_a_reader_that_goes_away_is_not_a_bug(project: Path) -> None:
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore"}
    process = subprocess.Popen(
        [sys.executable, "-m", "runner", "validate", "-v"],
        cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0,
    )  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    process.stdout.read(1)
    process.stdout.close()  # like `| head -c 1`
    err = process.stderr.read().decode()
    assert process.wait(timeout=120) in (0, 141)  # 0 when it had written all before
    assert "internal error" not in err
    assert not (project / ".qrun/debug.log").exists()


@pytest.mark.parametrize("columns", [60, 200])
def test_plain_tables_fit_the_terminal_width(
    columns: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    assert main(["templates"]) == 0
    whole = capsys.readouterr().out.splitlines()
    natural = max(map(len, whole))
    assert natural > 60  # the descriptions make it wider than a narrow terminal
    monkeypatch.setenv("COLUMNS", str(columns))
    assert main(["templates"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(whole)
    assert max(map(len, lines)) <= columns
    if natural <= columns:
        assert lines == whole  # room enough: nothing is cut
    else:
        assert any("…" in line for line in lines)
        for cut, full in zip(lines[2:], whole[2:], strict=True):  # cut at the end, not garbled
            assert full.startswith(cut.split()[0].rstrip("…"))


def test_numbers_are_never_cut_to_fit() -> None:
    rows = [["bell-fidelity-on-a-long-experiment-name", "0.96973", "1234567"],
            ["ghz", "0.5", "12"]]  # fmt: skip
    stream = io.StringIO()
    Output(stream=stream, environ={"COLUMNS": "30"}).table(["experiment", "value", "shots"], rows)
    lines = stream.getvalue().splitlines()
    assert max(map(len, lines)) <= 30
    assert lines[2].endswith("0.96973  1234567") and "…" in lines[2]
    assert lines[3].split() == ["ghz", "0.5", "12"]
