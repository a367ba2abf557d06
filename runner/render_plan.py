"""The plan as people read it: terminal rows, and Markdown for PR comments and step summaries.

The comment's layout, like Atlantis', Infracost's and CML's: the first line is a summary
that names the specs; then one line per spec that changes; everything else (transpiled
circuits, preview distributions, metric tables) is collapsed in <details>. Unchanged
specs are counted, not listed. GitHub caps a comment at 65,536 characters: past that the
details are dropped, spec by spec from the end, with a pointer to the job summary.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from runner.budget import Budget
from runner.errors import Diagnostic
from runner.plan import Action, Kind
from runner.reports.markdown import md

COMMENT_LIMIT = 65_536  # GitHub's cap on a PR comment
SUMMARY_LIMIT = 1_048_576  # GitHub's cap on a job summary
STICKY_MARKER = "<!-- qrun:plan -->"  # the comment's last line: how the sticky one is found
NAMES_SHOWN = 5  # specs named per summary group before "…"
ICONS = {
    Kind.SUBMIT: "🚀 submit",
    Kind.COLLECT: "📥 collect",
    Kind.REPORT: "📝 report",
    Kind.RETIRE: "🗄️ retire",
    Kind.BLOCKED: "⛔ blocked",
    Kind.DEFER: "⏸️ defer",
    Kind.NOOP: "· noop",
}
# summary groups, in the order they are written: (label, which actions)
GROUPS: list[tuple[str, Any]] = [
    ("to submit", lambda a: a.kind is Kind.SUBMIT and not _changed(a)),
    ("changed", lambda a: a.kind is Kind.SUBMIT and _changed(a)),
    ("to collect", lambda a: a.kind is Kind.COLLECT),
    ("to report", lambda a: a.kind is Kind.REPORT),
    ("to retire", lambda a: a.kind is Kind.RETIRE),
    ("blocked", lambda a: a.kind is Kind.BLOCKED),
    ("deferred", lambda a: a.kind is Kind.DEFER),
]


def _changed(action: Action) -> bool:
    """A submission because the spec changed (not a new spec, a retry or a due schedule)."""
    return action.reason.startswith("spec changed")


def label(action: Action) -> str:
    """The spec, and the target when the spec runs on several."""
    return action.name if action.target is None else f"{action.name} @ {action.target}"


PLAN_COLUMNS = ["action", "spec", "run", "est. QPU s", "est. cost", "reason"]


def money(amount: float | None) -> str:
    """A cost for a table cell: '$1.60'; blank for local runs (nothing is billed)."""
    return "" if amount is None else f"${amount:,.2f}"


def budget_line(actions: Sequence[Action], budget: Budget) -> str:
    """The hardware submissions' estimated QPU time and cost against what is left; empty
    when the plan has no hardware run to price."""
    if all(a.estimate_cost is None for a in actions):
        return ""
    planned = [a for a in actions if a.kind is Kind.SUBMIT and a.estimate_cost is not None]
    seconds = sum(a.estimate_seconds for a in planned)
    cost = sum(a.estimate_cost or 0.0 for a in planned)
    rate = (
        "Open Plan: QPU time not billed"
        if budget.open_plan
        else f"at ${budget.price_per_qpu_second:g} per QPU second"
    )
    return (
        f"Hardware submissions: ~{seconds:g} QPU s, est. {money(cost)} ({rate}); "
        f"{budget.qpu_seconds_left / 60:.1f} QPU min left in the rolling 28 days."
    )


def plan_rows(actions: Sequence[Action]) -> list[list[str]]:
    return [
        [
            a.kind.value,
            label(a),
            a.run_id or "",
            f"{a.estimate_seconds:g}" if a.estimate_seconds else "",
            money(a.estimate_cost),
            a.reason,
        ]
        for a in actions
    ]


@dataclass(frozen=True)
class PlanView:
    """Everything the comment shows, gathered by `qrun plan`."""

    actions: Sequence[Action]
    specs: Mapping[str, Any] = field(default_factory=dict)
    previews: Mapping[str, tuple[Any, list[Any]]] = field(default_factory=dict)  # by label
    problems: Sequence[Diagnostic] = ()
    changes: Sequence[Any] | None = None  # what a pull request changes (None: not a PR)
    last_runs: Mapping[str, tuple[str, Mapping[str, Any]]] = field(default_factory=dict)
    seconds_left: float | None = None  # QPU seconds left in the budget window
    violations: Sequence[Any] = ()  # policy findings (runner.policy.Violation)
    budget: Budget | None = None  # QPU time left, price, Open Plan: the money line


def summary_line(view: PlanView) -> str:
    """'2 to submit (bell-fez, ghz-scan) · 1 changed (qaoa-ring) · 14 unchanged · est. 42 QPU s
    · 318 s left this window'."""
    parts = []
    for text, wanted in GROUPS:
        names = sorted({label(a) for a in view.actions if wanted(a)})
        if names:
            shown = ", ".join(md(n) for n in names[:NAMES_SHOWN])
            more = f", … {len(names) - NAMES_SHOWN} more" if len(names) > NAMES_SHOWN else ""
            parts.append(f"{len(names)} {text} ({shown}{more})")
    unchanged = sum(a.kind is Kind.NOOP for a in view.actions)
    if unchanged or not parts:
        parts.append(f"{unchanged} unchanged")
    if view.problems:
        parts.insert(0, f"❌ {len(view.problems)} invalid")
    blocking = sum(v.blocking for v in view.violations)
    if view.violations:
        parts.append(f"policy: {blocking} blocking, {len(view.violations) - blocking} advisory")
    seconds = sum(a.estimate_seconds for a in view.actions if a.kind is Kind.SUBMIT)
    parts.append(f"est. {seconds:g} QPU s")
    if view.seconds_left is not None:
        parts.append(f"{max(view.seconds_left, 0):g} s left this window")
    return " · ".join(parts)


def _spec_line(a: Action) -> str:
    run = f" run `{md(a.run_id)}`" if a.run_id else ""
    shape = ""
    if "circuits" in a.details:
        d = a.details
        shape = f" · {d['circuits']} circuit(s) × {d['shots']} shots on {md(d['target'])}"
    cost = f" · est. {a.estimate_seconds:g} QPU s" if a.estimate_seconds else ""
    if a.estimate_cost is not None and a.kind is Kind.SUBMIT:
        cost += f" · est. {money(a.estimate_cost)}"
    if "service_estimate" in a.details:  # the service's dry run, beside qrun's estimate
        cost += f" · {md(a.details['service_estimate'])}"
    return f"- {ICONS[a.kind]} **{md(label(a))}**{run}: {md(a.reason)}{shape}{cost}"


def _metric_table(run_id: str, analysis: Mapping[str, Any], spec: Any, items: list) -> list[str]:
    from runner.plan_metrics import metric_rows  # with the preview: only when one is shown

    rows = metric_rows(analysis, items, noiseless=spec.target == "local:aer")
    if not rows:
        return []
    lines = [
        f"Hellinger fidelity to the noiseless ideal (95% interval): last run `{md(run_id)}` "
        "against the preview of this revision",
        "",
        "| metric | last run | preview | Δ |",
        "| --- | ---: | ---: | ---: |",
    ]
    for r in rows:
        preview = f"{r.preview.text()} ({r.note})" if r.preview else f"— ({r.note})"
        delta = f"{r.delta:+.3f}" if r.delta is not None else "—"
        lines.append(f"| fidelity {md(r.circuit_id)} | {r.last.text()} | {preview} | {delta} |")
    return [*lines, ""]


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


def _details(key: str, view: PlanView) -> list[str]:
    spec, items = view.previews[key]
    ex = spec.execution
    lines = [
        f"#### {md(spec.name)} on {md(spec.target)}",
        "",
        f"{ex.primitive}, {ex.shots} shots, optimization level {ex.optimization_level}, "
        f"seed {ex.seed_transpiler}",
        "",
    ]
    if key in view.last_runs:
        lines += _metric_table(*view.last_runs[key], spec, items)
    lines += [
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
    return [*lines, ""]


def plan_markdown(
    view: PlanView, limit: int = COMMENT_LIMIT, whole: str = "the job summary"
) -> str:
    """The plan comment: summary line, one line per changing spec, collapsed details, and
    the sticky marker last; at most limit characters (what is cut is in `whole`)."""
    head = [summary_line(view), ""]
    if view.budget is not None and (money_line := budget_line(view.actions, view.budget)):
        head += [money_line, ""]
    if view.changes is not None:
        names = ", ".join(f"`{md(c.name)}` ({c.change})" for c in view.changes)
        head += [f"This pull request changes: {names}" if names else "No spec changed.", ""]
    for p in view.problems[:50]:
        head.append(f"- ❌ `{md(p.path)}:{p.line}:{p.col}` {md(p.message)}")
    if len(view.problems) > 50:
        head.append(f"- ❌ … and {len(view.problems) - 50} more (see the job log)")
    for v in view.violations:
        where = f"**{md(v.name)}**" if v.name else "this pull request"
        icon = "⛔ blocking" if v.blocking else "⚠️ advisory"
        head.append(f"- {icon} policy `{v.rule}` on {where}: {md(v.message)}")
    head += [_spec_line(a) for a in view.actions if a.kind is not Kind.NOOP]
    sections = [_details(key, view) for key in sorted(view.previews)]
    tail = ["", STICKY_MARKER, ""]
    return _fit(head, sections, tail, limit, whole)


def _fit(
    head: list[str], sections: list[list[str]], tail: list[str], limit: int, whole: str
) -> str:
    """Join, dropping details sections from the end (then spec lines) until it fits."""

    def join(h: list[str], s: list[list[str]], note: str) -> str:
        body = list(h)
        if s:
            body += ["", f"<details><summary>Details: {len(s)} spec(s)</summary>", ""]
            body += [line for section in s for line in section]
            body += ["</details>"]
        if note:
            body += ["", note]
        return "\n".join(body + tail)

    text = join(head, sections, "")
    kept = len(sections)
    while len(text) > limit and kept > 0:
        kept -= 1
        note = (
            f"… details of {len(sections) - kept} more spec(s) cut to fit GitHub's "
            f"{limit:,}-character limit; {whole} has the whole plan."
        )
        text = join(head, sections[:kept], note)
    lines = len(head)
    while len(text) > limit and lines > 1:
        lines = max(1, lines - max(1, (len(text) - limit) // 80))
        note = (
            f"… {len(head) - lines} more line(s) cut to fit GitHub's {limit:,}-character "
            f"limit; {whole} has the whole plan."
        )
        text = join(head[:lines], [], note)
    return text
