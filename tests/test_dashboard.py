"""The dashboard a reader opens first: one row per experiment, invalid specs visible,
links that work on GitHub (none into the gitignored .qrun/), each experiment linked once."""

from __future__ import annotations

import re
from pathlib import Path

from runner.cli import main
from runner.lock import Lock
from runner.reports.render import ExperimentView, render_reports
from tests.test_reports import BELL_GHZ, CTX, history_view, table_rows, write_spec

BROKEN = """name = "broken"
[backend]
target = "local:aer"
[execution]
shots = -5
[[circuits]]
name = "b"
template = "bell"
"""


def test_fresh_clone_with_an_invalid_spec_and_a_dotenv_budget(project: Path) -> None:
    (project / "specs/broken.toml").write_text(BROKEN)
    (project / ".env").write_text("QRUN_QPU_SECONDS_BUDGET=1234\n")
    assert main(["apply"]) == 1  # an invalid spec is an expected failure; the rest ran
    readme = (project / "reports/README.md").read_text()
    section = readme.split("## Experiments")[1].split("\n## ")[0]
    names = sorted(p.stem for p in (project / "specs").glob("*.toml") if ".lock" not in p.name)
    assert "broken" in names and "bell" in names
    for name in names:
        assert len(re.findall(rf"\[{re.escape(name)}\]\(", section)) == 1, name
    rows = {r[1]: r for r in table_rows(readme, "Status | Experiment")}
    broken = rows["[broken](../specs/broken.toml#L5)"]
    assert broken[0] == "❌ invalid spec"
    assert "execution.shots must be ≥ 1 (got -5)" in broken[6]
    assert rows["[bell](bell.md)"][6].startswith("Mean fidelity 0.9")
    assert "of 1234 s" in readme
    active = len(names) - 1
    assert "1 invalid spec" in readme and f"{active} active experiments" in readme
    for page in (project / "reports").glob("*.md"):
        assert ".qrun/" not in page.read_text(), page.name
    assert not (project / "reports/broken.md").exists()  # never ran: nothing to page


def test_an_invalid_spec_with_history_keeps_its_page_and_is_not_archived(
    tmp_path: Path,
) -> None:
    spec = write_spec(tmp_path, "bell-ghz", BELL_GHZ)
    ran = history_view(spec, [0.05, 0.06])
    view = ExperimentView(
        name="bell-ghz",
        spec=None,
        lock=ran.lock,
        analyses=ran.analyses,
        spec_path="specs/bell-ghz.toml",
        invalid="specs/bell-ghz.toml:7:3: unknown template 'bel'",
    )
    never = ExperimentView("new", None, Lock("new"), {}, "specs/new.toml",
                           invalid="specs/new.toml:1:1: no such spec file")  # fmt: skip
    files = render_reports([view, never], CTX)
    readme = files["README.md"].decode()
    assert "## Archived experiments" not in readme
    (row, new) = table_rows(readme, "Status | Experiment")
    assert row[1] == "[bell-ghz](bell-ghz.md)" and row[0] == "❌ invalid spec"
    assert "[specs/bell-ghz.toml:7:3](../specs/bell-ghz.toml#L7): unknown template 'bel'" in row[6]
    assert new[1] == "[new](../specs/new.toml#L1)"
    page = files["bell-ghz.md"].decode()
    assert "**Invalid spec:**" in page and "Archived" not in page
    assert "new.md" not in files


def test_each_experiment_shows_its_last_runs_qpu_seconds_and_money(tmp_path: Path) -> None:
    """Billed seconds once collected (at the dashboard's rate), the plan's own estimate and
    money while pending, nothing for a local run, and 0 for a run planned on an Open Plan."""
    from runner.lock import RunRecord, RunStatus
    from tests.test_reports import run

    spec = write_spec(tmp_path, "bell-ghz", BELL_GHZ)

    def fez(status: RunStatus, seconds: float, cost: float) -> RunRecord:
        hardware = run(2, status, backend="ibm_fez").with_(target="ibm_fez")
        return hardware.with_(estimate_qpu_seconds=seconds, estimate_cost=cost)

    cases = {
        "billed": fez(RunStatus.COMPLETED, 4.0, 6.4),  # 2.5 s billed
        "pending": fez(RunStatus.QUEUED, 4.25, 6.8),
        "open-plan": fez(RunStatus.COMPLETED, 4.0, 0.0),
        "local": run(2),
    }
    views = [
        ExperimentView(name, spec, Lock(name, (r,)), {}, f"specs/{name}.toml")
        for name, r in cases.items()
    ]
    readme = render_reports(views, CTX)["README.md"].decode()
    rows = {r[1]: r[-1] for r in table_rows(readme, "Status | Experiment")}
    assert "| Duration | QPU · cost |" in readme
    assert rows == {
        "[billed](billed.md)": "2.5 s billed · $4.00",  # 2.5 s x the 1.60 rate
        "[pending](pending.md)": "~4.25 s est. · $6.80",  # the plan's figures, as recorded
        "[open-plan](open-plan.md)": "2.5 s billed · $0.00",
        "[local](local.md)": "—",
    }
    assert "priced at $1.6 per QPU second" in readme
