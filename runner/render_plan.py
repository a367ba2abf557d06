"""The plan as people read it: terminal rows, and Markdown for PR comments and step summaries.

GitHub caps a PR comment at 65,536 characters; the Markdown is cut to fit with a note.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from runner.errors import Diagnostic
from runner.plan import Action, Kind
from runner.reports.markdown import md

COMMENT_LIMIT = 65_000  # a little under GitHub's 65,536 to leave room for the marker
STICKY_MARKER = "<!-- qrun:plan -->"
ICONS = {
    Kind.SUBMIT: "🚀 submit",
    Kind.COLLECT: "📥 collect",
    Kind.REPORT: "📝 report",
    Kind.RETIRE: "🗄️ retire",
    Kind.BLOCKED: "⛔ blocked",
    Kind.DEFER: "⏸️ defer",
    Kind.NOOP: "· noop",
}


def label(action: Action) -> str:
    """The spec, and the target when the spec runs on several."""
    return action.name if action.target is None else f"{action.name} @ {action.target}"


def plan_rows(actions: Sequence[Action]) -> list[list[str]]:
    return [
        [
            a.kind.value,
            label(a),
            a.run_id or "",
            f"{a.estimate_seconds:g}" if a.estimate_seconds else "",
            a.reason,
        ]
        for a in actions
    ]


def _distribution(dist: Mapping[str, float] | None, top: int = 4) -> str:
    if not dist:
        return "—"
    best = sorted(dist.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return ", ".join(f"`{k}` {v:.2f}" for k, v in best)


def _ideal_cell(p: Any) -> str:
    """Sampler: the likeliest ideal outcomes; estimator: the ideal ⟨O⟩ of each observable."""
    if p.expectations:
        return ", ".join(f"⟨{md(o)}⟩ {v:+.3f}" for o, v in p.expectations.items())
    return _distribution(p.ideal)


def _top(dist: Mapping[str, float], top: int = 4) -> str:
    best = sorted(dist.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    rest = 1 - sum(v for _, v in best)
    more = f", rest {rest:.2f}" if len(dist) > top and rest > 0.005 else ""
    return ", ".join(f"{k} {v:.2f}" for k, v in best) + more


def preview_lines(p: Any) -> list[str]:
    """The simulated preview of one circuit as plain text lines (text output of plan)."""
    lines = []
    if p.ideal:
        lines.append(f"ideal: {_top(p.ideal)}")
    if p.noisy:
        lines.append(f"noisy preview: {_top(p.noisy)}")
    if p.expectations:
        evs = ", ".join(f"⟨{o}⟩ = {v:+.3f}" for o, v in p.expectations.items())
        lines.append(f"ideal expectation values: {evs}")
    return lines


def plan_markdown(
    actions: Sequence[Action],
    specs: Mapping[str, Any],
    previews: Mapping[str, tuple[Any, list[Any]]],
    problems: Sequence[Diagnostic],
    changes: Sequence[Any] | None = None,
) -> str:
    """A self-contained Markdown plan with the sticky-comment marker first."""
    lines = [STICKY_MARKER, "## qrun plan", ""]
    if changes is not None:
        if changes:
            lines.append(
                "Specs changed by this pull request: "
                + ", ".join(f"`{md(c.name)}` ({c.change})" for c in changes)
            )
        else:
            lines.append("This pull request changes no spec.")
        lines.append("")
    if problems:
        lines += [f"### ❌ {len(problems)} validation problem(s)", ""]
        lines += [f"- `{md(p.path)}:{p.line}:{p.col}` {md(p.message)}" for p in problems[:50]]
        if len(problems) > 50:
            lines.append(f"- … and {len(problems) - 50} more (see the job log)")
        lines.append("")
    todo = [a for a in actions if a.kind is not Kind.NOOP]
    total = sum(a.estimate_seconds for a in actions if a.kind is Kind.SUBMIT)
    lines.append(
        f"**{sum(a.changes for a in actions)} to apply**, "
        f"{sum(a.kind is Kind.BLOCKED for a in actions)} blocked, "
        f"{sum(a.kind is Kind.DEFER for a in actions)} deferred, "
        f"{sum(a.kind is Kind.NOOP for a in actions)} unchanged; "
        f"estimated QPU time {total:g} s."
    )
    lines.append("")
    if todo:
        lines += [
            "| action | spec | run | est. QPU s | reason |",
            "| --- | --- | --- | ---: | --- |",
        ]
        lines += [
            f"| {ICONS[a.kind]} | {md(label(a))} | {md(a.run_id or '')} | "
            f"{a.estimate_seconds:g} | {md(a.reason)} |"
            for a in todo
        ]
        lines.append("")
    for _name, (spec, items) in sorted(previews.items()):
        lines += [
            f"### {md(spec.name)} on {md(spec.target)}",
            "",
            f"{spec.execution.primitive}, {spec.execution.shots} shots, optimization level "
            f"{spec.execution.optimization_level}, seed {spec.execution.seed_transpiler}",
            "",
            "| circuit | qubits | depth | 2q gates | ideal (top outcomes) | noisy preview |",
            "| --- | ---: | ---: | ---: | --- | --- |",
        ]
        for p in items:
            t = p.transpiled
            lines.append(
                f"| {md(p.circuit_id)} | {p.width} | {t.depth if t else '—'} | "
                f"{t.two_qubit_gates if t else '—'} | {_ideal_cell(p)} | "
                f"{_distribution(p.noisy)} |"
            )
        lines.append("")
    text = "\n".join(lines) + "\n"
    if len(text) > COMMENT_LIMIT:
        cut = text[:COMMENT_LIMIT].rsplit("\n", 1)[0]
        text = (
            cut
            + "\n\n… plan truncated to fit a GitHub comment; `qrun plan` (text or JSON) in the job log has all of it.\n"
        )
    return text
