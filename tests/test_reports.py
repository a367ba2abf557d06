"""Reports: structure, escaping, determinism, drift, figures and the generated-file bookkeeping.

Specs are real TOML files loaded by the real loader; analysis documents are made by the
real analysis functions from hand-written counts; pages are checked by parsing them with
markdown-it (CommonMark + GFM tables), not by string matching alone.
"""

from __future__ import annotations

import random
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from runner.analysis.metrics import analyse_estimator, analyse_sampler, headline
from runner.lock import JobRecord, Lock, RunRecord, RunStatus
from runner.reports import figures
from runner.reports.drift import drift_alerts
from runner.reports.markdown import md
from runner.reports.render import (
    MANIFEST,
    ExperimentView,
    ReportContext,
    read_digest,
    render_reports,
    report_digest,
    write_reports,
)
from runner.spec.loader import load_spec
from runner.spec.model import Spec

HASH = "ab" * 32
NASTY = "Pipes | and <script>alert(1)</script> & {{ 7*7 }} `tick` *em* [x](http://e.vil)\n# not a heading"
CTX = ReportContext("abc1234", "2025-03-01T12:00:00+00:00", 600.0, 42.5, {"ibm_kyiv": 7})
PARSER = MarkdownIt("commonmark").enable("table")


def write_spec(root: Path, name: str, body: str, description: str = "") -> Spec:
    path = root / "specs" / f"{name}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    head = f'name = "{name}"\ndescription = """{description}"""\n'
    path.write_text(head + body, encoding="utf-8")
    return load_spec(path, root)


BELL_GHZ = """
tags = ["calibration", "ghz"]
[backend]
target = "local:fake_manila"
[execution]
shots = 2000
schedule = "weekly"
[analysis]
fidelity_threshold = 0.7
[[circuits]]
name = "bell"
template = "bell"
[[circuits]]
name = "ghz"
template = "ghz"
sweep = { num_qubits = [3, 4] }
"""


def sweep_spec(root: Path, points: int) -> Spec:
    values = ", ".join(str(n) for n in range(2, 2 + points))
    body = f"""
[backend]
target = "local:aer"
[[circuits]]
name = "ghz"
template = "ghz"
sweep = {{ num_qubits = [{values}] }}
"""
    return write_spec(root, "sweep", body)


def sampler_doc(spec: Spec, run_id: str, error: float, backend: str = "fake_manila") -> dict:
    """analysis.json as the pipeline writes it, from counts with `error` of the shots off-target."""
    shots = spec.execution.shots
    circuits = []
    for c in spec.circuits:
        n = c.width
        good = round(shots * (1 - error))
        counts = {"0" * n: good // 2, "1" * n: good - good // 2, "0" * (n - 1) + "1": shots - good}
        ideal = {"0" * n: 0.5, "1" * n: 0.5}
        circuits.append(analyse_sampler(c.circuit_id, c.template, c.params, counts, shots, ideal))
    head = headline(circuits)
    return {
        "version": 1, "name": spec.name, "run_id": run_id, "target": spec.target,
        "backend": backend, "primitive": "sampler", "shots": shots,
        "created": "2025-01-01T00:00:00+00:00", "finished": "2025-01-01T00:03:00+00:00",
        "trigger": "merge", "headline": head.to_json() if head else None,
        "circuits": [a.to_json() for a in circuits],
        "transpiled": {
            c.circuit_id: {"depth": 3 + c.width, "two_qubit_gates": c.width - 1,
                           "physical_qubits": list(range(c.width))}
            for c in spec.circuits
        },
        "calibration": {
            "device": backend, "backend_version": "1.2.3",
            "last_update_date": "2024-12-31T08:00:00+00:00",
            "qubits": [{"qubit": q, "t1_us": 120.5, "t2_us": 80.25, "readout_error": 0.021}
                       for q in range(8)],
            "two_qubit_gates": [{"qubits": [0, 1], "gate": "ecr", "error": 0.0071},
                                {"qubits": [6, 7], "gate": "ecr", "error": 0.009}],
        },
    }  # fmt: skip


def run(
    index: int,
    status: RunStatus = RunStatus.COMPLETED,
    backend: str = "fake_manila",
    **extra: Any,
) -> RunRecord:
    day = f"2025-02-{index:02d}"
    done = status in (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED)
    return RunRecord(
        id=f"{index:04d}-abababab", run_hash=HASH, trigger=extra.pop("trigger", "schedule"),
        target="local:fake_manila", status=status, created=f"{day}T10:00:00+00:00",
        updated=f"{day}T10:05:00+00:00", backend=backend,
        finished=f"{day}T10:04:30+00:00" if done else None, spec_commit="0123456789ab",
        qpu_seconds=2.5 if done else None,
        jobs=extra.pop("jobs", (JobRecord(f"job{index}", ("bell",), str(status)),)), **extra,
    )  # fmt: skip


def history_view(spec: Spec, errors: list[float], **kwargs: Any) -> ExperimentView:
    """A view with one completed run per error rate, docs for each, alternating backends."""
    runs, docs = [], {}
    for i, err in enumerate(errors, start=1):
        backend = "fake_manila" if i % 2 else "ibm_kyiv"
        runs.append(run(i, backend=backend))
        docs[runs[-1].id] = sampler_doc(spec, runs[-1].id, err, backend)
    extra_runs = kwargs.pop("extra_runs", ())
    lock = Lock(spec.name, (*runs, *extra_runs))
    links = {r.id: f"results/{spec.name}/{r.id}" for r in runs}
    return ExperimentView(spec.name, spec, lock, docs, f"specs/{spec.name}.toml", links)


# ---------------------------------------------------------------- Markdown structure helpers


def walk(tokens: list) -> list:
    out = []
    for token in tokens:
        out.append(token)
        out.extend(walk(token.children or []))
    return out


def split_row(line: str) -> list[str]:
    """Cells of a GFM table row, honouring backslash-escaped pipes (as markdown-it does)."""
    body = line.strip().removeprefix("|")
    body = body[:-1] if body.endswith("|") and not body.endswith("\\|") else body
    cells, current, escaped = [], "", False
    for ch in body:
        if ch == "|" and not escaped:
            cells.append(current)
            current = ""
        else:
            current += ch
        escaped = ch == "\\" and not escaped
    return [*cells, current]


def check_markdown(files: dict[str, bytes]) -> None:
    """Every table row has its header's width, every image resolves, no foreign HTML."""
    for name, data in files.items():
        if not name.endswith(".md"):
            continue
        text = data.decode("utf-8")
        lines = text.splitlines()
        tokens = PARSER.parse(text)
        for token in tokens:
            if token.type == "table_open":
                start, end = token.map
                widths = {len(split_row(line)) for line in lines[start:end]}
                assert len(widths) == 1, f"{name}: ragged table {lines[start:end]}"
        for token in walk(tokens):
            if token.type in ("html_inline", "html_block"):
                assert token.content.startswith("<!-- qrun:"), f"{name}: HTML {token.content!r}"
            if token.type == "image":
                assert token.attrs["src"] in files, f"{name}: broken image {token.attrs['src']}"


def text_of(files: dict[str, bytes], name: str) -> str:
    """All rendered plain text of a page (what a reader sees), joined by newlines."""
    tokens = walk(PARSER.parse(files[name].decode("utf-8")))
    return "\n".join(t.content for t in tokens if t.type == "text")


def table_rows(page: str, header: str) -> list[list[str]]:
    """Body rows of the table whose header row starts with `header`."""
    lines = page.splitlines()
    start = next(
        i
        for i, line in enumerate(lines[:-1])
        if line.startswith(f"| {header} |") and lines[i + 1].startswith("| --- |")
    )
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in split_row(line)])
    return rows


# ---------------------------------------------------------------- escaping


PLAIN_TOKENS = {"inline", "text", "paragraph_open", "paragraph_close"} | {
    f"{part}_{end}"
    for part in ("table", "thead", "tbody", "tr", "th", "td")
    for end in ("open", "close")
}


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40))
def test_md_filter_round_trips_any_text_as_plain_text(raw: str) -> None:
    expected = " ".join("".join(ch for ch in raw if ch.isprintable() or ch.isspace()).split())
    for prefix, source in (("", md(raw)), ("h", f"| h |\n| --- |\n| {md(raw)} |\n")):
        tokens = walk(PARSER.parse(source))
        assert {t.type for t in tokens} <= PLAIN_TOKENS, (raw, source)
        assert "".join(t.content for t in tokens if t.type == "text") == prefix + expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a | b", "a \\| b"),
        ("<script>", "&lt;script&gt;"),
        ("x & y", "x &amp; y"),
        ("one\ntwo\r\nthree\tfour", "one two three four"),
        ("`code`", "\\`code\\`"),
        ("{{ 7*7 }}", "{{ 7\\*7 }}"),
        ("# title", "\\# title"),
        ("1. item", "1\\. item"),
        ("1.5 qubits", "1.5 qubits"),
        ("---", "\\---"),
        (None, "—"),
    ],
)
def test_md_filter_cases(raw: str | None, expected: str) -> None:
    assert md(raw) == expected


def test_spec_text_renders_as_plain_text_everywhere(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, "nasty", BELL_GHZ, description=NASTY)
    failed = run(
        3, RunStatus.FAILED, backend="ibm_<b>|x", error="boom | <img src=x> {{ 1+1 }}\nline"
    )
    view = history_view(spec, [0.05, 0.06], extra_runs=(failed,))
    files = render_reports([view], CTX)
    check_markdown(files)
    seen = text_of(files, "nasty.md")
    assert (
        "Pipes | and <script>alert(1)</script> & {{ 7*7 }} `tick` *em* [x](http://e.vil) # not a heading"
        in seen
    )
    assert "boom | <img src=x> {{ 1+1 }} line" in seen
    assert not re.search(r"(?<![\d.])49(?![\d.])", seen) and "{{ 1+1 }}" in seen
    page = files["nasty.md"].decode()
    assert "<script>" not in page and "<img" not in page
    assert [r[4] for r in table_rows(page, "Run")].count("ibm\\_&lt;b&gt;\\|x") == 1
    assert all(t.type != "heading_open" or t.tag in ("h1", "h2", "h3")
               for t in PARSER.parse(page))  # fmt: skip
    assert sum(t.type == "heading_open" and t.tag == "h1" for t in PARSER.parse(page)) == 1


# ---------------------------------------------------------------- determinism and structure


def test_rendering_is_byte_deterministic(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, "bell-ghz", BELL_GHZ, description="Bell and GHZ")
    other = write_spec(tmp_path, "aer", BELL_GHZ.replace("local:fake_manila", "local:aer"))
    views = [history_view(spec, [0.05, 0.07, 0.06]), history_view(other, [0.01])]
    first = render_reports(views, CTX)
    second = render_reports(list(reversed(views)), CTX)
    assert first == second
    assert list(first) == sorted(first)
    for name, data in first.items():
        if name.endswith(".svg"):
            assert b"<dc:date>" not in data and b"Matplotlib" not in data, name
    check_markdown(first)


def test_dashboard_groups_by_tag_and_lists_pending_jobs(tmp_path: Path) -> None:
    tagged = write_spec(tmp_path, "bell-ghz", BELL_GHZ)
    plain = write_spec(tmp_path, "plain", BELL_GHZ.replace('tags = ["calibration", "ghz"]', ""))
    queued = run(2, RunStatus.QUEUED, backend="ibm_kyiv",
                 jobs=(JobRecord("d1", ("bell",), "queued"), JobRecord("d2", ("ghz",), "running")))  # fmt: skip
    claimed = run(2, RunStatus.CLAIMED, backend=None, jobs=())
    views = [history_view(tagged, [0.05], extra_runs=(queued,)),
             history_view(plain, [0.05], extra_runs=(claimed,))]  # fmt: skip
    files = render_reports(views, CTX)
    check_markdown(files)
    readme = files["README.md"].decode()
    assert not [line for line in readme.splitlines() if line.startswith("### ")]
    assert readme.count("(bell-ghz.md)") == readme.count("(plain.md)") == 1  # once per page
    experiments = table_rows(readme, "Status | Experiment | Tags")
    assert [r[1] for r in experiments] == ["[bell-ghz](bell-ghz.md)", "[plain](plain.md)"]
    assert [r[2] for r in experiments] == ["calibration, ghz", "—"]
    assert "Tags: calibration (1) · ghz (1)." in readme
    assert "Generated from commit abc1234 at 2025-03-01 12:00" in readme
    assert "42.5 s used of 600 s (7.1%)" in readme
    pending = table_rows(readme, "Experiment | Run | Job")
    assert [(r[2], r[3], r[5]) for r in pending] == [
        ("d1", "⏳ queued", "7"),
        ("d2", "⏳ running", "7"),
        ("— (not submitted)", "📝 claimed", "—"),
    ]
    status = experiments[0]
    assert status[0] == "⏳ queued" and status[4] == "0002-abababab"
    assert status[6].startswith("Mean fidelity ") and "(run 0001-abababab)" in status[6]


def test_multi_run_multi_backend_page(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, "bell-ghz", BELL_GHZ)
    extra = (run(5, RunStatus.FAILED, error="job failed: 8001"), run(6, RunStatus.CANCELLED))
    view = history_view(spec, [0.05, 0.06, 0.05, 0.07], extra_runs=extra)
    files = render_reports([view], CTX)
    check_markdown(files)
    page = files["bell-ghz.md"].decode()
    history = table_rows(page, "Run")
    assert len(history) == len(view.lock.runs) == 6
    assert [r[0] for r in history] == [f"000{i}-abababab" for i in range(6, 0, -1)]
    assert {r[4] for r in history} == {"fake\\_manila", "ibm\\_kyiv (retired)"}
    assert "figures/bell-ghz/trend.svg" in files and "](figures/bell-ghz/trend.svg)" in page
    latest = dict((r[0], r[1]) for r in table_rows(page, "Field"))
    assert latest["Status"] == "🚫 cancelled" and latest["Run"] == "0006-abababab"
    results = table_rows(page, "Circuit")
    assert [r[0] for r in results] == ["bell", "ghz\\[num\\_qubits=3\\]", "ghz\\[num\\_qubits=4\\]"]
    assert [r[1:4] for r in results] == [["2", "5", "1"], ["3", "6", "2"], ["4", "7", "3"]]
    assert all(re.fullmatch(r"0\.9\d+ \[0\.9\d+, (0\.9\d+|1\.0+)\]", r[4]) for r in results)
    assert "Stored results: [0004-abababab](results/bell-ghz/0004-abababab)" in page
    calibration = table_rows(page, "Qubit")
    assert [r[0] for r in calibration] == ["0", "1", "2", "3"]  # only the qubits used
    assert [r[0] for r in table_rows(page, "Qubits")] == ["0–1"]
    hists = [n for n in files if "-hist" in n]
    assert hists == ["figures/bell-ghz/0004-abababab-hist.svg"]  # one figure, all 3 circuits
    labels = svg_texts(files[hists[0]])
    assert {"bell", "ghz[num_qubits=3]", "ghz[num_qubits=4]"} <= labels


def test_failed_latest_run_shows_its_error(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, "bell-ghz", BELL_GHZ)
    view = history_view(
        spec, [0.05], extra_runs=(run(2, RunStatus.FAILED, error="8001: too long"),)
    )
    page = render_reports([view], CTX, figures=False)["bell-ghz.md"].decode()
    latest = dict((r[0], r[1]) for r in table_rows(page, "Field"))
    assert latest["Error"] == "8001: too long" and latest["Status"] == "❌ failed"
    assert "figures/" not in page


def test_estimator_page_has_observables_table(tmp_path: Path) -> None:
    body = """
[backend]
target = "local:aer"
[execution]
primitive = "estimator"
[[circuits]]
name = "zz"
template = "bell"
observables = ["ZZ", "XX", "YY"]
"""
    spec = write_spec(tmp_path, "est", body)
    analysis = analyse_estimator("zz", "bell", {}, ["ZZ", "XX", "YY"], [0.98, 0.9, -0.97],
                                 [0.01, 0.02, 0.01], [1.0, 1.0, -1.0], shots=4096)  # fmt: skip
    head = headline([analysis])
    doc = {"circuits": [analysis.to_json()], "headline": head.to_json() if head else None,
           "shots": 4096, "transpiled": {}, "calibration": {}}  # fmt: skip
    view = ExperimentView(
        "est", spec, Lock("est", (run(1),)), {"0001-abababab": doc}, "specs/est.toml"
    )
    files = render_reports([view], CTX)
    check_markdown(files)
    rows = table_rows(files["est.md"].decode(), "Circuit | Observable")
    assert [(r[1], r[2], r[3], r[4]) for r in rows] == [
        ("ZZ", "0.980 [0.960, 1.000]", "1", "-0.020 [-0.040, 0.000]"),  # one convention: 95%
        ("XX", "0.900 [0.861, 0.939]", "1", "-0.100 [-0.139, -0.061]"),
        ("YY", "-0.970 [-0.990, -0.950]", "-1", "0.030 [0.010, 0.050]"),
    ]
    assert head is not None and head.low is not None and head.low <= head.value <= head.high
    assert not [n for n in files if n.endswith(".svg")]  # no counts, one run: nothing to draw


# ---------------------------------------------------------------- drift


def metric(value: float, stderr: float, higher: bool | None = True) -> dict[str, Any]:
    return {"name": "fid", "value": value, "low": value - 1.96 * stderr,
            "high": value + 1.96 * stderr, "stderr": None, "higher_is_better": higher}  # fmt: skip


def test_drift_fires_on_a_drop_but_not_on_stable_noise() -> None:
    # run-to-run scatter (0.02) four times the shot noise each run reports (0.005): the
    # rule must judge a new run against the scatter, so false alarms stay rare at 3σ
    rng = random.Random(7)
    fired = 0
    for _ in range(200):
        stable = [(f"r{i}", metric(0.9 + rng.gauss(0, 0.02), 0.005)) for i in range(15)]
        fired += len(drift_alerts(stable, None, 3.0, 20))
    assert fired <= 3
    dropping = [
        (f"r{i}", metric(v, 0.005)) for i, v in enumerate([0.95, 0.951, 0.948, 0.952, 0.90])
    ]
    (alert,) = drift_alerts(dropping, None, 3.0, 20)
    assert alert.kind == "drift" and alert.run_id == "r4" and alert.sigmas > 3
    assert drift_alerts(dropping, 0.91, 3.0, 20)[0].kind == "threshold"
    assert drift_alerts(dropping[:-1], 0.91, 3.0, 20) == []


def test_drift_rule_edges() -> None:
    drop = [metric(0.95, 0.005), metric(0.95, 0.005), metric(0.951, 0.005), metric(0.8, 0.005)]
    history = [(f"r{i}", m) for i, m in enumerate(drop)]
    assert (
        drift_alerts([(r, {**m, "higher_is_better": False}) for r, m in history], 0.9, 3, 20) == []
    )
    assert (
        drift_alerts([(r, {**m, "higher_is_better": None}) for r, m in history], 0.9, 3, 20) == []
    )
    assert drift_alerts(history[-2:], None, 3.0, 20) == []  # one earlier run: no spread yet
    assert drift_alerts(history, None, 3.0, 2) == []  # window of 2 holds one earlier run
    assert drift_alerts(history, None, 3.0, 3)[0].kind == "drift"
    assert drift_alerts([*history, ("none", None)], None, 3.0, 20)[0].run_id == "r3"
    assert drift_alerts([], 0.5, 3.0, 20) == []


def test_drift_alert_appears_on_page_and_dashboard(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, "bell-ghz", BELL_GHZ)
    view = history_view(spec, [0.04, 0.05, 0.04, 0.05, 0.4])
    files = render_reports([view], CTX)
    check_markdown(files)
    page, readme = files["bell-ghz.md"].decode(), files["README.md"].decode()
    banners = [t for t in PARSER.parse(page) if t.type == "blockquote_open"]
    assert len(banners) == 2  # below the 0.7 threshold and drifting
    assert page.index("Below threshold") < page.index("## Spec")
    assert "Drift alert" in page
    alerts = readme.split("## Drift alerts")[1]
    assert alerts.count("- ⚠️ bell-ghz, run 0005-abababab") == 2  # linked above, once
    quiet = render_reports([history_view(spec, [0.04, 0.05, 0.04])], CTX, figures=False)
    assert "No drift alerts." in quiet["README.md"].decode()
    assert "⚠️" not in quiet["bell-ghz.md"].decode()


# ---------------------------------------------------------------- archived, figures, files


def test_archived_experiment_listed_at_the_end(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, "bell-ghz", BELL_GHZ)
    gone = ExperimentView("gone", None, Lock("gone", (run(1), run(2))), {}, "specs/gone.toml")
    files = render_reports([gone, history_view(spec, [0.05])], CTX)
    check_markdown(files)
    readme = files["README.md"].decode()
    assert readme.rindex("## Archived experiments") > readme.index("## Drift alerts")
    assert [r[:4] for r in table_rows(readme, "Experiment | Runs")] == [
        ["[gone](gone.md)", "2", "0002-abababab", "✅ completed"]
    ]
    assert "gone" not in readme.split("## Pending jobs")[0]
    page = files["gone.md"].decode()
    assert "**Archived:**" in page and "## Spec" not in page and len(table_rows(page, "Run")) == 2
    assert "The analysis of run 0002-abababab is not available" in page


def test_sweep_figures_fit_the_budget_and_are_capped(tmp_path: Path) -> None:
    spec = sweep_spec(tmp_path, 12)
    view = history_view(spec, [0.05, 0.08])
    files = render_reports([view], CTX)
    check_markdown(files)
    svgs = {n: d for n, d in files.items() if n.endswith(".svg")}
    assert sum(len(d) for d in svgs.values()) <= figures.FIGURE_BUDGET_BYTES
    (hist,) = [d for n, d in svgs.items() if "-hist" in n]
    # one entry: circuits labelled by their sweep values, the entry named in the title
    assert {f"num_qubits={n}" for n in range(2, 14)} <= svg_texts(hist)
    assert any("outcomes of ghz" in t for t in svg_texts(hist))
    assert len([n for n in svgs if "-sweep-" in n]) == 1 and "figures/sweep/trend.svg" in svgs
    assert render_reports([view], CTX) == files
    wide = sweep_spec(tmp_path, 14)
    files = render_reports([history_view(wide, [0.05])], CTX)
    page = files["sweep.md"].decode()
    assert "Showing 12 of 14 circuits, evenly spaced through the run" in page
    assert page.count("-hist.svg") == 1
    (hist,) = [d for n, d in files.items() if n.endswith("-hist.svg")]
    shown = {t for t in svg_texts(hist) if t.startswith("num_qubits=")}
    # evenly spaced over num_qubits 2..15: first and last kept, two in between left out
    assert shown == {f"num_qubits={n}" for n in range(2, 16) if n not in (5, 12)}


def svg_texts(svg: bytes) -> set[str]:
    """The text elements of an SVG (figures keep text as <text>, not glyph paths)."""
    import xml.etree.ElementTree as ET

    root = ET.fromstring(svg)
    return {"".join(e.itertext()).strip() for e in root.iter("{http://www.w3.org/2000/svg}text")}


def test_histogram_circuits_spread_over_the_run() -> None:
    circuits = [{"circuit_id": f"c{i}", "probabilities": {"0": 1.0}} for i in range(50)]
    circuits.insert(3, {"circuit_id": "estimator-only", "probabilities": None})
    picked = [c["circuit_id"] for c in figures.histogram_circuits(circuits)]
    assert len(picked) == figures.MAX_HISTOGRAMS and picked[0] == "c0" and picked[-1] == "c49"
    assert picked == sorted(set(picked), key=lambda c: int(c[1:]))  # in order, no repeats
    assert figures.histogram_circuits(circuits[:5]) == [
        c for c in circuits[:5] if c["probabilities"]
    ]


def test_histogram_shows_fewer_outcomes_per_circuit_as_circuits_grow() -> None:
    many = {format(i, "05b"): 1 / 32 for i in range(32)}
    one = svg_texts(figures.histogram("t", [("only", many, None)]))
    assert len({t for t in one if len(t) == 5 and set(t) <= {"0", "1"}}) == figures.MAX_OUTCOMES
    assert "top 16 of 32 outcomes; the other 16 hold 0.5 of the probability" in one
    twelve = [(f"c{i}", many, None) for i in range(12)]
    texts = svg_texts(figures.histogram("t", twelve))
    assert "t (top 2 of each; the rest hold ≤ 0.94)" in texts  # 40 slots: 12 x 2 bars + 11 gaps
    three = svg_texts(figures.histogram("t", twelve[:3]))
    assert "t (top 12 of each; the rest hold ≤ 0.62)" in three
    long = [(f"sweep[angle=0.5,depth={d},num_qubits=12]", many, None) for d in (1, 2)]
    shown = svg_texts(figures.histogram("t", long))
    assert {"depth=1", "depth=2"} <= shown  # what varies, by value
    assert any(t.startswith("t of sweep (top") for t in shown)  # the entry, once, in the title
    mixed = [("a_rather_long_entry_name_here[n=1]", many, None), ("bell", many, None)]
    assert {"a_rather_long_entr…[n=1]", "bell"} <= svg_texts(figures.histogram("t", mixed))
    assert figures.histogram("t", twelve) == figures.histogram("t", twelve)  # byte-deterministic


def test_top_outcomes_keeps_the_likeliest_in_bit_order() -> None:
    measured = {format(i, "06b"): (i + 1) / 2080 for i in range(64)}
    assert figures.top_outcomes(measured, {"000000": 0.5}, 3) == ["000000", "111110", "111111"]


def test_write_reports_prunes_only_what_it_generated(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, "bell-ghz", BELL_GHZ)
    other = write_spec(tmp_path, "other", BELL_GHZ)
    reports = tmp_path / "reports"
    (reports / "figures").mkdir(parents=True)
    (reports / "notes.md").write_text("mine\n")
    (reports / "figures" / "logo.svg").write_text("<svg/>\n")
    first = render_reports([history_view(spec, [0.05]), history_view(other, [0.05])], CTX)
    assert write_reports(reports, first) == sorted([*first, MANIFEST])
    assert write_reports(reports, first) == []
    view = history_view(spec, [0.05, 0.06])
    second = render_reports([view], CTX)
    changed = write_reports(reports, second)
    assert "other.md" in changed and not (reports / "other.md").exists()
    assert not (reports / "figures" / "other").exists()
    old = [n for n in first if n.startswith("figures/bell-ghz/0001")]
    assert old and all(n in changed and not (reports / n).exists() for n in old)
    assert (reports / "notes.md").read_text() == "mine\n"
    assert (reports / "figures" / "logo.svg").exists()
    assert sorted((reports / MANIFEST).read_text().splitlines()) == sorted(second)
    assert read_digest(reports / "bell-ghz.md") == report_digest(view)
    assert read_digest(reports / "other.md") is None
    with pytest.raises(ValueError, match="escapes"):
        write_reports(reports, {"../outside.md": b"x"})


def test_digest_tracks_the_inputs(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, "bell-ghz", BELL_GHZ)
    view = history_view(spec, [0.05])
    page = render_reports([view], CTX, figures=False)["bell-ghz.md"].decode()
    assert f"<!-- qrun:digest {report_digest(view)} -->" in page.splitlines()[:3]
    edited = write_spec(tmp_path, "bell-ghz", BELL_GHZ, description="new words")
    assert report_digest(history_view(edited, [0.05])) != report_digest(view)
    assert report_digest(history_view(spec, [0.05, 0.05])) != report_digest(view)


def test_importing_the_renderer_stays_light() -> None:
    code = "import sys, runner.reports.render; print(sorted(m for m in ('matplotlib', 'jinja2', 'qiskit') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


CROSS_PROCESS = """
import hashlib, sys
from pathlib import Path
from tests.test_reports import CTX, history_view, render_reports, sweep_spec
files = render_reports([history_view(sweep_spec(Path(sys.argv[1]), 3), [0.05, 0.1])], CTX)
print(hashlib.sha256(repr(sorted(files.items())).encode()).hexdigest())
"""


def test_figures_are_identical_across_processes(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parent.parent
    digests = set()
    for seed in ("1", "2"):
        env = {"PYTHONHASHSEED": seed, "PATH": "", "MPLCONFIGDIR": str(tmp_path / "mpl")}
        done = subprocess.run([sys.executable, "-c", CROSS_PROCESS, str(tmp_path / seed)],
                              capture_output=True, text=True, check=True, cwd=root, env=env)  # fmt: skip
        digests.add(done.stdout.strip())
    assert len(digests) == 1


def test_the_lead_is_the_first_fitted_value_in_spec_order() -> None:
    from runner.fits.lead import lead_metric

    def entry(name: str, metric: str, value: float | None) -> dict:
        return {"entry": name, "metrics": [{"name": metric, "value": value, "low": 1.0,
                                            "high": 3.0, "unit": "µs"}]}  # fmt: skip

    circuits = [{"circuit_id": f"t1-q5[delay_us={d}]"} for d in (0, 50)] + [
        {"circuit_id": "echo-q4[delay_us=0]"}
    ]
    entries = [entry("echo-q4", "t2_echo_us", 2.0), entry("t1-q5", "t1_us", 2.5)]  # sorted by name
    lead = lead_metric(entries, circuits)
    assert lead is not None and lead["label"] == "T1 (t1-q5)" and lead["value"] == 2.5
    assert lead["unit"] == "µs" and (lead["low"], lead["high"]) == (1.0, 3.0)
    failed = [entry("t1-q5", "t1_us", None), entry("echo-q4", "t2_echo_us", 2.0)]
    assert lead_metric(failed, circuits)["label"] == "T2 echo (echo-q4)"  # a fit without a value
    assert lead_metric([], circuits) is None  # no fits: the mean fidelity stays the headline
