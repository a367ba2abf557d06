"""Figures of run-level analyses: the data with error bars and the fitted curve, and the
history of a fitted value against the device's reported value.

Same conventions as runner.reports.figures (6-inch SVG, fixed rc and salted ids, text as
<text>, no metadata), so the pages line up and re-rendering changes no byte.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from runner.reports.figures import (
    IDEAL,
    MEASURED,
    THRESHOLD,
    PageFigure,
    _figure,
    _label,
    _svg,
    slug,
)

MAX_FIT_FIGURES = 8
Z95 = 1.96  # series carry standard errors; the bars show 95% intervals like the tables
MAX_HISTORY_FIGURES = 4
_COLOURS = (MEASURED, "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2")


def _headline(result: Mapping[str, Any]) -> str:
    parts = []
    for m in list(result.get("metrics") or ())[:2]:
        if m.get("value") is None:
            continue
        unit = f" {m['unit']}" if m.get("unit") else ""
        interval = f" [{m['low']:.4g}, {m['high']:.4g}]" if m.get("low") is not None else ""
        parts.append(f"{m['name']} = {m['value']:.4g}{interval}{unit}")
    return "; ".join(parts) or "no fit"


def fit_plot(title: str, result: Mapping[str, Any]) -> bytes:
    """Each series' points (± standard error) and its fitted (or reference) curve."""
    quality = result.get("quality") or {}
    with _figure(3.2) as fig:
        fig.subplots_adjust(top=1 - 0.5 / 3.2)
        ax = fig.add_subplot()
        for n, series in enumerate(list(result.get("series") or ())[: len(_COLOURS)]):
            colour = _COLOURS[n]
            bars = [Z95 * e if e is not None else 0.0 for e in series["yerr"]]
            ax.errorbar(series["x"], series["y"], yerr=bars, marker="o", markersize=4,
                        linestyle="none", capsize=3, color=colour,
                        label=_label(f"{series['label']} (95% bars)"))  # fmt: skip
            kind = series.get("curve_label", "fit")
            if series.get("fit_x") and kind == "fit":
                ax.plot(series["fit_x"], series["fit_y"], color=colour, label="fit")
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
        ax.set_title(f"{_label(f'{title}: {verdict}')}\n{_label(_headline(result))}", loc="left")
        ax.legend(loc="best", frameon=False)
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


def history_plot(title: str, points: Sequence[tuple[str, Mapping[str, Any]]], unit: str) -> bytes:
    """A fitted value per run (95% interval) against the device's reported value per run."""
    with _figure(3.0) as fig:
        ax = fig.add_subplot()
        xs = list(range(len(points)))
        measured = [p for _, p in points]
        below = [
            max(0.0, m["measured"] - m["low"]) if m.get("low") is not None else 0.0
            for m in measured
        ]
        above = [
            max(0.0, m["high"] - m["measured"]) if m.get("high") is not None else 0.0
            for m in measured
        ]
        ax.errorbar(xs, [m["measured"] for m in measured], yerr=[below, above], marker="o",
                    capsize=3, color=MEASURED, label="measured (fit)")  # fmt: skip
        ax.plot(xs, [m["reported"] for m in measured], marker="s", color=IDEAL, linestyle="--",
                label="reported by the device")  # fmt: skip
        ax.set_xticks(xs, [run_id.split("-")[0] for run_id, _ in points])
        ax.set_xlabel("run")
        ax.set_ylabel(_label(unit or "value"))
        ax.set_title(_label(title), loc="left")
        ax.legend(loc="best", frameon=False)
        return _svg(fig)


def history_figures(
    name: str, history: Mapping[str, Sequence[tuple[str, Mapping[str, Any]]]]
) -> list[PageFigure]:
    """For each measured-vs-reported quantity seen in two or more runs, its history."""
    out: list[PageFigure] = []
    for key, points in sorted(history.items()):
        if len(points) < 2 or len(out) >= MAX_HISTORY_FIGURES:
            continue
        unit = str(points[-1][1].get("unit") or "")
        data = history_plot(f"{name}: {key} per run, measured vs reported", points, unit)
        out.append(PageFigure(f"figures/{name}/history-{slug(key)}.svg",
                              f"{key} across runs: fitted against reported", data))  # fmt: skip
    return out
