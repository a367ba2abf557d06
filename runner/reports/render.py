"""Render reports/: the README.md dashboard, one page per experiment, and their figures.

A pure function of specs, locks and stored analyses (plus a context that carries no
wall-clock time), so re-rendering unchanged inputs yields the same bytes and the same
commit-free working tree. Templates are package data (runner/reports/templates/*.j2);
every value taken from a spec, a lock or a result reaches the page through the `md`
filter (see markdown.py), never as template source.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from runner.analysis.metrics import display_name
from runner.files import write_atomic
from runner.fits.lead import lead_metric
from runner.lock import JobRecord, Lock, RunRecord, RunStatus
from runner.reports import figures as fig
from runner.reports import fit_figures, fits_view
from runner.reports.digest import page_digest, read_digest
from runner.reports.drift import Alert, drift_alerts
from runner.reports.markdown import FILTERS, duration
from runner.reports.sweeps import sweep_figures
from runner.spec.model import Spec

__all__ = [
    "ExperimentView",
    "ReportContext",
    "read_digest",
    "render_reports",
    "report_digest",
    "write_reports",
]

MANIFEST = ".qrun-manifest"
GENERATED = (
    "<!-- qrun:generated: written by qrun from specs/ and lock files; edits are overwritten -->"
)
MAX_CALIBRATION_ROWS = 40


@dataclass(frozen=True)
class ExperimentView:
    """Everything one experiment page is rendered from."""

    name: str
    spec: Spec | None  # None when the spec was removed (archived)
    lock: Lock
    analyses: Mapping[str, dict[str, Any]]  # run id -> analysis.json of completed runs
    spec_path: str  # relative to the repository root, e.g. specs/bell.toml
    object_links: Mapping[str, str] = field(default_factory=dict)  # run id -> stored results
    invalid: str | None = None  # the first problem of a spec that failed validation

    @property
    def has_page(self) -> bool:
        """An invalid spec that never ran has nothing to show but its error (on the dashboard)."""
        return not (self.invalid and not self.lock.runs)


@dataclass(frozen=True)
class ReportContext:
    """Dashboard-wide facts; generated_at is the newest lock update, never the clock."""

    generated_from: str | None
    generated_at: str
    qpu_budget_seconds: float
    qpu_used_seconds: float
    queue_lengths: Mapping[str, int] = field(default_factory=dict)
    price_per_qpu_second: float = 1.60  # QRUN_PRICE_PER_QPU_SECOND: money beside QPU time


def report_digest(view: ExperimentView) -> str:
    """The digest embedded in the page: the planner compares it to spot stale pages."""
    return page_digest(view.spec, view.lock)


def headline_of(view: ExperimentView, run: RunRecord) -> dict[str, Any] | None:
    """A run's headline metric: from its analysis.json, else the copy kept in the lock."""
    doc = view.analyses.get(run.id) or {}
    metric = doc.get("headline") or run.headline or None
    return metric if metric and metric.get("value") is not None else None


def lead_of(view: ExperimentView, run: RunRecord) -> dict[str, Any] | None:
    """What a run is headlined by on the pages: its first fitted value when its entries
    have run-level fits (runner.fits.lead), else its headline metric."""
    doc = view.analyses.get(run.id)
    if doc and run.status is RunStatus.COMPLETED:
        fitted = lead_metric(fits_view.entry_results(doc), doc.get("circuits") or ())
        if fitted is not None:
            return fitted
    return headline_of(view, run)


def _completed(view: ExperimentView) -> list[tuple[RunRecord, dict[str, Any]]]:
    out = []
    for run in view.lock.runs:
        metric = headline_of(view, run) if run.status is RunStatus.COMPLETED else None
        if metric is not None:
            out.append((run, metric))
    return out


def alerts_of(view: ExperimentView) -> list[Alert]:
    """Current drift alerts (archived experiments have no thresholds and raise none)."""
    if view.spec is None:
        return []
    rules = view.spec.analysis
    history = [(run.id, metric) for run, metric in _completed(view)]
    alerts = drift_alerts(history, rules.fidelity_threshold, rules.drift_sigma, rules.history)
    runs = [(r.id, view.analyses[r.id]) for r in view.lock.runs if r.id in view.analyses]
    if runs:
        alerts += fits_view.fitted_alerts(runs, rules.drift_sigma, rules.history)
    return alerts


@cache
def _environment() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("runner", "reports/templates"),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(FILTERS)
    return env


def _calibration(doc: Mapping[str, Any], transpiled: Mapping[str, Any]) -> dict[str, Any] | None:
    """The calibration rows of the physical qubits (and couplers) the run used."""
    cal = doc.get("calibration") or {}
    if not cal:
        return None
    used = {q for t in transpiled.values() for q in t.get("physical_qubits") or ()}
    qubits = [q for q in cal.get("qubits", ()) if not used or q.get("qubit") in used]
    gates = [
        g for g in cal.get("two_qubit_gates", ()) if not used or set(g.get("qubits", ())) <= used
    ]
    shown = qubits[:MAX_CALIBRATION_ROWS], gates[:MAX_CALIBRATION_ROWS]
    return {**cal, "qubits": shown[0], "gates": shown[1],
            "hidden": len(qubits) + len(gates) - len(shown[0]) - len(shown[1])}  # fmt: skip


def _results(
    view: ExperimentView, run: RunRecord, doc: Mapping[str, Any], draw: bool, budget: int
) -> dict[str, Any]:
    """Per-circuit rows, observables, histograms, sweep figures and calibration of one run."""
    circuits = list(doc.get("circuits") or ())
    transpiled = doc.get("transpiled") or run.transpiled or {}
    widths = {c.circuit_id: c.width for c in view.spec.circuits} if view.spec else {}
    rows, observables = [], []
    for c in circuits:
        cid = str(c["circuit_id"])
        tp = transpiled.get(cid) or {}
        metrics = c.get("metrics") or {}
        width = len(tp.get("physical_qubits") or ()) or widths.get(cid)
        if width is None and c.get("counts"):
            width = len(next(iter(c["counts"])))
        plain = [
            (display_name(k), m)
            for k, m in sorted(metrics.items())
            if not k.startswith(("ev[", "deviation[", "difference["))
        ]
        rows.append({"id": cid, "width": width, "depth": tp.get("depth"),
                     "twoq": tp.get("two_qubit_gates"), "fidelity": c.get("fidelity"),
                     "note": c.get("fidelity_note"), "metrics": plain})  # fmt: skip
        for label in c.get("observables") or ():
            ev = metrics.get(f"ev[{label}]")
            observables.append({"id": cid, "label": label, "ev": ev,
                                "difference": metrics.get(f"difference[{label}]"),
                                "deviation": metrics.get(f"deviation[{label}]")})  # fmt: skip
    entries = fits_view.entry_results(doc)
    fitted = fits_view.analysed_circuits(entries, doc)
    swept = [c for c in circuits if str(c["circuit_id"]) not in fitted]
    sweeps = sweep_figures(view.name, run.id, view.spec, swept) if draw and view.spec else []
    budget -= sum(len(f.data) for f in sweeps)
    fits = fit_figures.fit_figures(view.name, run.id, entries, budget) if draw else []
    budget -= sum(len(f.data) for f in fits)
    shown = fig.histogram_circuits(circuits)
    hist = fig.histogram_figure(view.name, run.id, shown, budget) if draw else None
    with_counts = sum(1 for c in circuits if c.get("probabilities"))
    return {"run": run, "doc": doc, "rows": rows, "observables": observables, "sweeps": sweeps,
            "histograms": [hist] if hist else [], "histogram_circuits": len(shown),
            "with_counts": with_counts, "fits": entries, "fit_figures": fits,
            "reported": [(e["entry"], r) for e in entries for r in e.get("reported") or ()],
            "calibration": _calibration(doc, transpiled)}  # fmt: skip


def _experiment(view: ExperimentView, draw: bool) -> tuple[str, list[fig.PageFigure]]:
    """The experiment page's Markdown and the figures it links to."""
    completed = _completed(view)
    threshold = view.spec.analysis.fidelity_threshold if view.spec else None
    window = view.spec.analysis.history if view.spec else fig.MAX_TREND_RUNS
    points = [(r.id, r.backend or r.target, lead_of(view, r) or m) for r, m in completed][-window:]
    if points and points[-1][2].get("label"):  # a fitted value: the fidelity threshold is not its
        threshold = None
    trend = fig.trend_figure(view.name, points, threshold) if draw else None
    budget = fig.FIGURE_BUDGET_BYTES - (len(trend.data) if trend else 0)
    done = [r for r in view.lock.runs if r.status is RunStatus.COMPLETED]
    results: dict[str, Any] | None = None
    if done:
        doc = view.analyses.get(done[-1].id)
        results = _results(view, done[-1], doc, draw, budget) if doc else {"run": done[-1]}
    history = [{"run": r, "headline": lead_of(view, r)} for r in reversed(view.lock.runs)]
    analysed = [(r.id, view.analyses[r.id]) for r in done if r.id in view.analyses][-window:]
    fitted_history = (
        fit_figures.history_figures(view.name, fits_view.reported_history(analysed)) if draw else []
    )
    targets = _targets(view, draw)
    changes = None
    same_target = [
        r for r in done if done and r.target == done[-1].target
    ]  # compare like with like
    if len(same_target) >= 2 and all(r.id in view.analyses for r in same_target[-2:]):
        from runner.analysis.compare import metric_diff

        old, new = same_target[-2], same_target[-1]
        rows = metric_diff(view.analyses[old.id], view.analyses[new.id])
        changes = {"old": old.id, "new": new.id, "rows": rows}
    page = _environment().get_template("experiment.md.j2").render(
        generated=GENERATED, digest=report_digest(view), view=view, spec=view.spec,
        alerts=alerts_of(view), latest=view.lock.latest, results=results, history=history,
        trend=trend, duration=duration, max_histograms=fig.MAX_HISTOGRAMS, changes=changes,
        targets=targets, fitted_history=fitted_history,
        lead=lead_of(view, view.lock.latest) if view.lock.latest else None,
    )  # fmt: skip
    figures = (
        ([trend] if trend else [])
        + ([targets["figure"]] if targets and targets["figure"] else [])
        + ([*results.get("sweeps", ()), *results.get("histograms", ()),
             *results.get("fit_figures", ())] if results else [])
        + fitted_history
    )  # fmt: skip
    return page, figures


def _targets(view: ExperimentView, draw: bool) -> dict[str, Any] | None:
    """Side by side: the latest completed run on each of a multi-target spec's targets."""
    if view.spec is None or len(view.spec.targets) < 2:
        return None
    columns: list[dict[str, Any]] = []
    fidelity: dict[str, dict[str, Any]] = {}
    for target in view.spec.targets:
        run = next((r for r in reversed(view.lock.runs)
                    if r.target == target and r.status is RunStatus.COMPLETED), None)  # fmt: skip
        doc = view.analyses.get(run.id) if run else None
        per_circuit = {c["circuit_id"]: c["fidelity"] for c in (doc or {}).get("circuits", [])
                       if c.get("fidelity")}  # fmt: skip
        if per_circuit:
            fidelity[target] = per_circuit
        columns.append(
            {"target": target, "run": run, "headline": lead_of(view, run) if run else None}
        )
    circuits = [c.circuit_id for c in view.spec.circuits]
    rows = [
        {"id": c, "cells": [fidelity.get(str(col["target"]), {}).get(c) for col in columns]}
        for c in circuits
    ]
    figure = fig.comparison_figure(view.name, circuits, fidelity) if draw else None
    return {"columns": columns, "rows": rows, "figure": figure}


def run_cost(run: RunRecord, price_per_second: float) -> str:
    """A run's QPU seconds and money: billed once collected, else the plan's estimate kept
    in the record at claim time (the plan's own figure); a local run costs nothing."""
    if run.target.startswith("local:"):
        return "—"
    rate = price_per_second
    if run.estimate_qpu_seconds and run.estimate_cost == 0:
        rate = 0.0  # planned on an Open Plan instance: its time is not billed
    if run.qpu_seconds is not None:
        return f"{run.qpu_seconds:g} s billed · ${run.qpu_seconds * rate:,.2f}"
    if run.estimate_qpu_seconds is not None:
        return f"~{run.estimate_qpu_seconds:g} s est. · ${run.estimate_cost or 0.0:,.2f}"
    return "—"


def _dashboard(views: Sequence[ExperimentView], ctx: ReportContext) -> str:
    """One row per experiment (tags a column), invalid specs with their first error."""
    rows: list[dict[str, Any]] = []
    pending: list[tuple[str, RunRecord, JobRecord | None, int | None]] = []
    alerts: list[tuple[str, Alert]] = []
    archived: list[dict[str, Any]] = []
    tags: dict[str, int] = {}
    for view in views:
        latest = view.lock.latest
        completed = _completed(view)
        lead = (completed[-1][0], lead_of(view, completed[-1][0])) if completed else None
        row = {"view": view, "latest": latest, "headline": lead, "problem": _problem(view)}
        if view.spec is None and view.invalid is None:
            archived.append(row)
        else:
            rows.append(row)
        for tag in view.spec.tags if view.spec else ():
            tags[tag] = tags.get(tag, 0) + 1
        alerts += [(view.name, alert) for alert in alerts_of(view)]
        for run in view.lock.runs:
            if run.status.pending:
                queue = ctx.queue_lengths.get(run.backend or run.target)
                pending += [(view.name, run, job, queue) for job in run.jobs] or [
                    (view.name, run, None, queue)
                ]
    budget, used = ctx.qpu_budget_seconds, ctx.qpu_used_seconds
    invalid = sum(1 for r in rows if r["problem"])
    return _environment().get_template("dashboard.md.j2").render(
        generated=GENERATED, ctx=ctx, rows=rows, tags=sorted(tags.items()), pending=pending,
        alerts=alerts, archived=archived, duration=duration, invalid=invalid, cost=run_cost,
        active=len(rows) - invalid,
        percent=f"{100 * used / budget:.1f}%" if budget > 0 else "no budget set",
    )  # fmt: skip


def _problem(view: ExperimentView) -> dict[str, Any] | None:
    """An invalid spec's first error, split into the file position (linked) and the text."""
    if view.invalid is None:
        return None
    head, _, message = view.invalid.partition(": ")
    path, _, rest = head.partition(":")
    line = rest.split(":")[0] if rest else ""
    if path != view.spec_path or not message:
        return {"where": view.spec_path, "anchor": "", "message": view.invalid}
    return {"where": head, "anchor": f"#L{line}" if line.isdigit() else "", "message": message}


def render_reports(
    views: Sequence[ExperimentView],
    ctx: ReportContext,
    *,
    figures: bool = True,
    reuse: Mapping[str, Mapping[str, bytes]] | None = None,
) -> dict[str, bytes]:
    """{path under reports/: bytes} for the dashboard, every page and its figures.

    figures=False skips matplotlib entirely (pages then carry no figure links). reuse maps
    an experiment name to its already-rendered, still-current files (page and figures):
    those are kept as they are, so unchanged experiments cost nothing and need no stored
    results (a fresh CI checkout has no local store).
    """
    ordered = sorted(views, key=lambda v: v.name)
    names = [v.name for v in ordered]
    if len(set(names)) != len(names):
        raise ValueError(
            f"duplicate experiment views: {sorted(n for n in names if names.count(n) > 1)}"
        )
    files: dict[str, bytes] = {}
    for view in ordered:
        if not view.has_page:
            continue
        if reuse and view.name in reuse:
            files.update(reuse[view.name])
            continue
        page, drawn = _experiment(view, figures)
        files[f"{view.name}.md"] = page.encode("utf-8")
        files.update((f.path, f.data) for f in drawn)
    files["README.md"] = _dashboard(ordered, ctx).encode("utf-8")
    return dict(sorted(files.items()))


def _safe(reports_dir: Path, rel: str) -> Path:
    path = reports_dir / rel
    if Path(rel).is_absolute() or ".." in Path(rel).parts or not rel:
        raise ValueError(f"report path {rel!r} escapes {reports_dir}")
    return path


def write_reports(reports_dir: Path, files: Mapping[str, bytes], prune: bool = True) -> list[str]:
    """Write changed files atomically; with prune, delete files an earlier render made that
    this one did not (listed in reports/.qrun-manifest). Returns the changed paths. No
    fsync: pages are re-rendered from locks and results, and committed to git."""
    manifest = reports_dir / MANIFEST
    before = set(manifest.read_text("utf-8").splitlines()) if manifest.exists() else set()
    changed = [
        rel
        for rel, data in sorted(files.items())
        if write_atomic(_safe(reports_dir, rel), data, durable=False)
    ]
    if prune:
        for rel in sorted(before - set(files) - {""}):
            path = _safe(reports_dir, rel)
            if path.is_file():
                path.unlink()
                changed.append(rel)
            for parent in path.parents:  # drop directories the pruning emptied, not reports/
                if parent == reports_dir or not parent.is_dir() or any(parent.iterdir()):
                    break
                parent.rmdir()
    kept = set(files) if prune else set(files) | before
    listing = "".join(f"{rel}\n" for rel in sorted(kept - {""}))
    if write_atomic(manifest, listing, durable=False):
        changed.append(MANIFEST)
    return sorted(changed)
