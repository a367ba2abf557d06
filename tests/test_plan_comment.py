"""The plan comment: its first line, one line per changing spec, collapsed details, the
metric table (last run against the preview) and GitHub's 65,536-character cap."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from runner.analysis.stats import hellinger_fidelity
from runner.cli import main
from runner.plan import Action, Kind
from runner.plan_metrics import metric_rows
from runner.preview import PREVIEW_SHOTS, CircuitPreview
from runner.render_plan import COMMENT_LIMIT, STICKY_MARKER, PlanView, plan_markdown

CHANGED = "spec changed (run hash 1234abcd → 5678ef90)"


def submit(name: str, seconds: float = 0.0, reason: str = "new spec") -> Action:
    details = {"circuits": 1, "shots": 100, "jobs": 1, "target": "ibm_fez"}
    return Action(Kind.SUBMIT, name, reason, run_id="0001-abcdef12", estimate_seconds=seconds,
                  details=details)  # fmt: skip


def noop(name: str) -> Action:
    return Action(Kind.NOOP, name, "up to date (run 0001-aaaa)")


@pytest.mark.parametrize(
    ("actions", "left", "first"),
    [
        (
            [submit("bell-fez", 30), submit("ghz-scan", 12), submit("qaoa-ring", 0, CHANGED)]
            + [noop(f"idle-{i}") for i in range(14)],
            318,
            "2 to submit (bell-fez, ghz-scan) · 1 changed (qaoa-ring) · 14 unchanged · "
            "est. 42 QPU s · 318 s left this window",
        ),
        ([noop("a"), noop("b")], None, "2 unchanged · est. 0 QPU s"),
        ([], 600, "0 unchanged · est. 0 QPU s · 600 s left this window"),
        (
            [submit(f"s{i}") for i in range(7)] + [Action(Kind.COLLECT, "c", "1 job(s) queued")],
            -5,
            "7 to submit (s0, s1, s2, s3, s4, … 2 more) · 1 to collect (c) · est. 0 QPU s · "
            "0 s left this window",
        ),
        (
            [Action(Kind.BLOCKED, "big", "estimated 900 QPU s exceeds max_qpu_seconds = 60")],
            10,
            "1 blocked (big) · est. 0 QPU s · 10 s left this window",
        ),
    ],
)
def test_first_line_summarises_and_names_the_specs(
    actions: list[Action], left: float | None, first: str
) -> None:
    text = plan_markdown(PlanView(actions, seconds_left=left))
    assert text.splitlines()[0] == first
    assert text.rstrip().endswith(STICKY_MARKER)


def test_one_line_per_changing_spec_and_unchanged_ones_only_counted() -> None:
    actions = [submit("bell-fez", 30), submit("qaoa-ring", 0, CHANGED), noop("quiet-one")]
    text = plan_markdown(PlanView(actions))
    lines = text.splitlines()
    spec_lines = [line for line in lines if line.startswith("- ")]
    assert len(spec_lines) == 2
    assert spec_lines[0].startswith("- 🚀 submit **bell-fez** run `0001-abcdef12`: new spec")
    assert "est. 30 QPU s" in spec_lines[0] and "1 circuit(s) × 100 shots" in spec_lines[0]
    assert "quiet-one" not in text


def _spec(name: str, target: str) -> SimpleNamespace:
    execution = SimpleNamespace(
        primitive="sampler", shots=100, optimization_level=1, seed_transpiler=7
    )
    return SimpleNamespace(name=name, target=target, execution=execution)


NOISY = {"00": 0.46, "11": 0.47, "01": 0.04, "10": 0.03}
IDEAL = {"00": 0.5, "11": 0.5}


def test_details_are_collapsed_and_hold_the_metric_table() -> None:
    preview = CircuitPreview("bell", 2, None, IDEAL, NOISY)
    analysis = {"circuits": [{"circuit_id": "bell", "fidelity": {"value": 0.9, "low": 0.88,
                                                                  "high": 0.92}}]}  # fmt: skip
    view = PlanView(
        [submit("bell-fez", 3, CHANGED)],
        previews={"bell-fez": (_spec("bell-fez", "ibm_fez"), [preview])},
        last_runs={"bell-fez": ("0001-aaaa1111", analysis)},
    )
    text = plan_markdown(view)
    before, details = text.split("<details>", 1)
    assert "bell-fez on ibm_fez" not in before and "</details>" in details
    assert "| metric | last run | preview | Δ |" in details
    (row,) = [line for line in details.splitlines() if line.startswith("| fidelity bell")]
    counts = {k: round(p * PREVIEW_SHOTS) for k, p in NOISY.items()}
    predicted = hellinger_fidelity(counts, IDEAL)
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1] == "0.900 [0.880, 0.920]"
    assert cells[2].startswith(f"{predicted:.3f} [") and "noisy twin" in cells[2]
    assert cells[3] == f"{predicted - 0.9:+.3f}"
    low, high = map(float, re.findall(r"\d\.\d{3}", cells[2])[1:3])
    assert low <= predicted <= high


@pytest.mark.parametrize(
    ("preview", "noiseless", "note"),
    [
        (CircuitPreview("bell", 2, None, IDEAL, None), True, "noiseless simulator"),
        (CircuitPreview("bell", 2, None, IDEAL, None), False, "no noise model"),
        (CircuitPreview("bell", 2, None, None, None), True, "not simulated: plan --preview"),
    ],
)
def test_metric_rows_say_how_the_preview_was_made(
    preview: CircuitPreview, noiseless: bool, note: str
) -> None:
    analysis = {"circuits": [{"circuit_id": "bell", "fidelity": {"value": 0.95}},
                             {"circuit_id": "gone", "fidelity": {"value": 0.5}}]}  # fmt: skip
    rows = metric_rows(analysis, [preview], noiseless)
    assert [(r.circuit_id, r.note) for r in rows] == [("bell", note), ("gone", "circuit removed")]
    expected = 1.0 - 0.95 if note == "noiseless simulator" else None
    assert rows[0].delta == (pytest.approx(expected) if expected is not None else None)


def test_never_over_githubs_cap() -> None:
    many = [CircuitPreview(f"c{i}", 3, None, IDEAL, None) for i in range(60)]
    names = [f"spec-{i:04d}" for i in range(300)]
    view = PlanView(
        [submit(n) for n in names],
        previews={n: (_spec(n, "local:aer"), many) for n in names},
    )
    text = plan_markdown(view)
    assert len(text) <= COMMENT_LIMIT
    assert text.startswith("300 to submit (spec-0000,")
    assert "the job summary has the whole plan" in text
    assert sum(line.startswith("- 🚀") for line in text.splitlines()) == 300
    assert text.count("<details>") == text.count("</details>") == 1
    assert text.rstrip().endswith(STICKY_MARKER)
    whole = plan_markdown(view, limit=10**7)
    assert len(whole) > COMMENT_LIMIT and "cut to fit" not in whole
    # even the spec lines alone can be too many: they are cut too, the summary stays
    huge = plan_markdown(PlanView([submit(f"s-{i:05d}") for i in range(5000)]))
    assert len(huge) <= COMMENT_LIMIT and huge.startswith("5000 to submit")
    assert "more line(s) cut" in huge and huge.rstrip().endswith(STICKY_MARKER)


BELL = """name = "bell"
[backend]
target = "local:aer"
[execution]
shots = {shots}
[[circuits]]
name = "bell"
template = "bell"
"""


def test_a_changed_spec_shows_its_last_run_against_the_preview(
    project: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for p in (project / "specs").glob("*.toml"):
        p.unlink()
    spec = project / "specs" / "bell.toml"
    spec.write_text(BELL.format(shots=200))
    assert main(["apply"]) == 0
    capsys.readouterr()
    spec.write_text(BELL.format(shots=300))
    summary = tmp_path / "summary.md"
    assert main(["plan", "--format", "markdown", "--preview", "--summary", str(summary)]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0].startswith("1 changed (bell) · est. 0 QPU s · ")
    assert summary.read_text() == text
    (row,) = [line for line in text.splitlines() if line.startswith("| fidelity bell")]
    last = float(row.split("|")[2].split()[0])
    assert 0.9 < last <= 1.0
    assert "1.000 (noiseless simulator)" in row
    assert row.split("|")[4].strip() == f"{1.0 - last:+.3f}"
