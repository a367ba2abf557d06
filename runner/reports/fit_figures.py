"""Figures of run-level analyses: the data with error bars and the fitted curve, and the
history of a fitted value against the device's reported value.

Same conventions as runner.reports.figures (6-inch SVG, fixed rc and salted ids, text as
<text>, no metadata), so the pages line up and re-rendering changes no byte.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from runner.fits.lead import human_name
from runner.reports.figures import (
    MEASURED,
    THRESHOLD,
    PageFigure,
    _figure,
    _label,
    _svg,
    set_title,
    slug,
)
from runner.reports.markdown import metric

MAX_FIT_FIGURES = 8
Z95 = 1.96  # series carry standard errors; the bars show 95% intervals like the tables
MAX_HISTORY_FIGURES = 4
# Okabe–Ito like the other figures, vermilion (THRESHOLD) kept for reported and reference values
_COLOURS = (MEASURED, "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#000000")


def _headline(result: Mapping[str, Any]) -> str:
    """The fitted values: 'T1 = 182 [169, 194] µs'; one quantity at several points is named
    once ('Mean heavy-output probability: width=2 0.77 [0.68, 0.85]; width=3 …') so that
    every point fits in the title."""
    shown = [m for m in list(result.get("metrics") or ())[:4] if m.get("value") is not None]
    bases = {str(m["name"]).partition("[")[0] for m in shown}
    if len(shown) > 1 and len(bases) == 1:
        points = [f"{str(m['name']).partition('[')[2].rstrip(']')} {metric(m)}" for m in shown]
        return f"{human_name(bases.pop())}: " + "; ".join(points)
    return "; ".join(f"{human_name(str(m['name']))} = {metric(m)}" for m in shown) or "no fit"


def fit_plot(title: str, result: Mapping[str, Any]) -> bytes:
    """Each series' points (± standard error) and its fitted (or reference) curve; a
    series and its fit share one legend entry ("n = 4 (95% bars) and fit")."""
    from matplotlib.legend_handler import HandlerTuple

    quality = result.get("quality") or {}
    with _figure(3.2) as fig:
        ax = fig.add_subplot()
        handles: list[Any] = []
        labels: list[str] = []
        for n, series in enumerate(list(result.get("series") or ())[: len(_COLOURS)]):
            colour = _COLOURS[n]
            bars: Any = [Z95 * e if e is not None else 0.0 for e in series["yerr"]]
            if series.get("bounds"):  # asymmetric 95% intervals: [below, above] each point
                bars = [[y - lo for y, (lo, _) in zip(series["y"], series["bounds"], strict=True)],
                        [hi - y for y, (_, hi) in zip(series["y"], series["bounds"], strict=True)]]  # fmt: skip
            points = ax.errorbar(series["x"], series["y"], yerr=bars, marker="o", markersize=4,
                                 linestyle="none", capsize=3, color=colour)  # fmt: skip
            kind = series.get("curve_label", "fit")
            handles.append(points)
            labels.append(_label(f"{series['label']} (95% bars)"))
            if series.get("fit_x") and kind == "fit":
                (curve,) = ax.plot(series["fit_x"], series["fit_y"], color=colour)
                handles[-1] = (points, curve)
                labels[-1] = _label(f"{series['label']} (95% bars) and fit")
            elif series.get("fit_x") and kind == "reported":  # one reference value per point
                ax.plot(series["fit_x"], series["fit_y"], color=THRESHOLD, linestyle="none",
                        marker="x", markersize=8, label="reported by the device")  # fmt: skip
            elif series.get("fit_x"):  # a reference line such as QV's 2/3
                ax.plot(series["fit_x"], series["fit_y"], color=THRESHOLD, linestyle="--",
                        linewidth=1, label=_label(kind))  # fmt: skip
            xs = sorted({float(x) for x in series["x"]})
            if xs and len(xs) <= 12 and all(x.is_integer() for x in xs):
                ax.set_xticks(xs, [f"{x:g}" for x in xs])
        ax.set_xlabel(_label(str(result.get("x_label", "x"))))
        ax.set_ylabel(_label(str(result.get("y_label", "y"))))
        verdict = "good" if quality.get("good") else f"BAD: {quality.get('reason', '')}"
        set_title(ax, f"{title}: {verdict}", _headline(result))
        others, other_labels = ax.get_legend_handles_labels()  # reported values, references
        ax.legend(handles + others, labels + other_labels, loc="best", frameon=False,
                  handler_map={tuple: HandlerTuple(ndivide=1)})  # fmt: skip
        return _svg(fig)


def fit_figures(
    name: str, run_id: str, entries: Sequence[Mapping[str, Any]], budget: int
) -> list[PageFigure]:
    """One figure per analysed entry, while within `budget` bytes (at most MAX_FIT_FIGURES)."""
    out: list[PageFigure] = []
    for result in list(entries)[:MAX_FIT_FIGURES]:
        entry = str(result["entry"])
        data = fit_plot(f"{entry} ({result['analysis']})", result)
        if len(data) > budget:
            break
        budget -= len(data)
        path = f"figures/{name}/{run_id}-fit-{slug(entry)}.svg"
        out.append(
            PageFigure(path, f"{result['analysis']} fit of {entry}: data and fitted curve", data)
        )
    return out


def history_plot(
    title: str, lines: Mapping[str, Sequence[tuple[str, Mapping[str, Any]]]], unit: str
) -> bytes:
    """Per qubit (line label), the fitted value per run (95% interval) beside the device's
    reported value in the same run; runs share the x axis."""
    runs = sorted({run_id for points in lines.values() for run_id, _ in points})
    where = {run_id: n for n, run_id in enumerate(runs)}
    with _figure(3.0) as fig:
        ax = fig.add_subplot()
        for n, (label, points) in enumerate(sorted(lines.items())[: len(_COLOURS)]):
            colour = _COLOURS[n]
            xs = [where[run_id] for run_id, _ in points]
            rows = [row for _, row in points]
            below = [max(0.0, r["measured"] - r["low"]) if r.get("low") is not None else 0.0
                     for r in rows]  # fmt: skip
            above = [max(0.0, r["high"] - r["measured"]) if r.get("high") is not None else 0.0
                     for r in rows]  # fmt: skip
            ax.errorbar(xs, [r["measured"] for r in rows], yerr=[below, above], marker="o",
                        capsize=3, color=colour, label=_label(f"{label} fitted"))  # fmt: skip
            ax.plot(xs, [r["reported"] for r in rows], marker="s", markersize=4, color=colour,
                    linestyle="--", alpha=0.6, label=_label(f"{label} reported"))  # fmt: skip
        ax.set_xticks(range(len(runs)), [run_id.split("-")[0] for run_id in runs])
        ax.set_xlabel("run")
        ax.set_ylabel(_label(unit or "value"))
        set_title(ax, title)
        ax.legend(loc="best", frameon=False, ncols=2)
        return _svg(fig)


def history_figures(
    name: str, history: Mapping[str, Sequence[tuple[str, Mapping[str, Any]]]]
) -> list[PageFigure]:
    """One figure per quantity (t1_us, t2_echo_us, readout_error, ...) seen in two or more
    runs: a line per entry and qubit, fitted against reported."""
    by_quantity: dict[str, dict[str, Sequence[tuple[str, Mapping[str, Any]]]]] = {}
    for key, points in sorted(history.items()):
        row = points[-1][1]
        quantity = str(row["name"]).split("[", 1)[0]
        qubits = ",".join(str(q) for q in row.get("qubits") or ())
        by_quantity.setdefault(quantity, {})[f"q{qubits}" if qubits else key] = points
    out: list[PageFigure] = []
    for quantity, lines in sorted(by_quantity.items(), key=lambda kv: (kv[0] != "t1_us", kv[0])):
        if max(len(points) for points in lines.values()) < 2 or len(out) >= MAX_HISTORY_FIGURES:
            continue
        unit = str(next(iter(lines.values()))[-1][1].get("unit") or quantity)
        data = history_plot(f"{name}: {quantity} per run, fitted vs reported", lines, unit)
        out.append(PageFigure(f"figures/{name}/history-{slug(quantity)}.svg",
                              f"{quantity} across runs: fitted against the device's reported value",
                              data))  # fmt: skip
    return out
