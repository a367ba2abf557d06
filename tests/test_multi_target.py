"""The same spec on several targets: one run per target, planned and compared side by side."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from runner.cli import main

SPEC = """name = "cmp"
[backend]
target = {targets}
[execution]
shots = 2000
[[circuits]]
name = "ghz"
template = "ghz"
sweep = {{ num_qubits = [2, 3] }}
"""


@pytest.fixture
def cmp_project(project: Path) -> Path:
    for p in (project / "specs").glob("*.toml"):
        p.unlink()
    (project / "specs" / "cmp.toml").write_text(
        SPEC.format(targets='["local:aer", "local:fake_manila"]')
    )
    return project


def test_one_run_per_target_with_its_own_identity(
    cmp_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plan", "--format", "json"]) == 0
    actions = json.loads(capsys.readouterr().out)["data"]
    assert [(a["kind"], a["target"]) for a in actions] == [
        ("submit", "local:aer"),
        ("submit", "local:fake_manila"),
    ]
    assert actions[0]["run_id"] != actions[1]["run_id"]
    assert main(["apply"]) == 0
    runs = tomllib.loads((cmp_project / "specs" / "cmp.lock.toml").read_text())["runs"]
    assert {r["target"]: r["status"] for r in runs} == {
        "local:aer": "completed",
        "local:fake_manila": "completed",
    }
    assert runs[0]["run_hash"] != runs[1]["run_hash"]
    # the page compares them: a column per target, a row per circuit, and the figure exists
    page = (cmp_project / "reports" / "cmp.md").read_text()
    section = page.split("## Targets side by side", 1)[1].split("\n## ", 1)[0]
    tokens = MarkdownIt("commonmark").enable("table").parse(section)
    headers = [t for t in tokens if t.type == "th_open"]
    assert len(headers) == 3  # label column + two targets
    assert "ghz\\[num\\_qubits=3\\]" in section
    assert (cmp_project / "reports" / "figures" / "cmp" / "targets.svg").is_file()


def test_adding_a_target_runs_only_the_new_one(
    cmp_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = cmp_project / "specs" / "cmp.toml"
    spec.write_text(SPEC.format(targets='"local:aer"'))
    assert main(["apply"]) == 0
    first = tomllib.loads((cmp_project / "specs" / "cmp.lock.toml").read_text())["runs"]
    spec.write_text(SPEC.format(targets='["local:aer", "local:fake_manila"]'))
    capsys.readouterr()
    assert main(["plan", "--format", "json"]) == 0
    actions = json.loads(capsys.readouterr().out)["data"]
    kinds = {(a["kind"], a["target"]) for a in actions}
    assert ("submit", "local:fake_manila") in kinds
    assert ("submit", "local:aer") not in kinds  # same identity as the run already recorded
    assert main(["apply"]) == 0
    runs = tomllib.loads((cmp_project / "specs" / "cmp.lock.toml").read_text())["runs"]
    assert runs[0] == first[0] and len(runs) == 2
