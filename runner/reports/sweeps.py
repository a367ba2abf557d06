"""Fidelity against a sweep parameter: the figure that shows a sweep's effect.

A parameter's values decide how it is drawn: numbers on a numeric axis joined by a line,
categories (strings) and list values (QAOA `gammas`) as separate points at their index (no
line: there is nothing between two categories), with the values themselves in the page's
per-circuit table. Other swept keys of the same entry make one series each; when there are
more series than a reader can tell apart (100 seeds × 3 widths), the figure shows the mean
± one standard deviation over them, and says so, instead of dropping lines. A seed is a
nuisance parameter: averaged over, never drawn as an axis of its own. The y axis is
scaled to the data so a decay from 0.98 to 0.86 and its error bars are visible.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from runner.reports.figures import PageFigure, _errorbars, _figure, _label, _svg, set_title, slug

if TYPE_CHECKING:
    from runner.spec.model import Spec

MAX_SWEEP_SERIES = 8  # more series than this are summarised as mean ± s.d.
MAX_SWEEP_FIGURES = 4
MAX_TICKS = 20
# Units of common template parameters, for the x axis (others are shown by name only).
UNITS = {"num_qubits": "qubits", "width": "qubits", "depth": "layers", "p": "QAOA layers",
         "layers": "layers", "reps": "repetitions", "shots": "shots"}  # fmt: skip

# Keys that only vary the instance (random seeds): averaged over, never an x axis.
NUISANCE = ("seed",)

Point = tuple[float, Mapping[str, Any]]


@dataclass
class Axis:
    """What one figure plots: one swept key, how its values map to x, and the series."""

    key: str
    kind: str  # numeric | category | list
    ticks: list[str] = field(default_factory=list)  # category / list: labels by index
    series: dict[str, list[Point]] = field(default_factory=dict)
    others: set[str] = field(default_factory=set)  # the other swept keys (series labels)


def kind_of(values: Sequence[Any]) -> str:
    """numeric (ints and floats, not bools), list (lists or tables) or category."""
    if values and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return "numeric"
    if values and all(isinstance(v, list | tuple | dict) for v in values):
        return "list"
    return "category"


def _tick(value: Any, kind: str, index: int) -> str:
    """A category as written; a list value as written when short, else by its index."""
    from runner.spec.expand import format_value

    text = format_value(value)
    return text if len(text) <= 12 else f"#{index}"


def axes_of(spec: Spec, circuits: Sequence[Mapping[str, Any]]) -> list[Axis]:
    """One Axis per swept key (entries sweeping the same key in the same way share it)."""
    from runner.spec.expand import format_value

    fidelity = {str(c["circuit_id"]): c["fidelity"] for c in circuits
                if c.get("fidelity") and c["fidelity"].get("value") is not None}  # fmt: skip
    found: dict[tuple[str, str], Axis] = {}
    for entry in spec.entries:
        for key in sorted(k for k in entry.sweep if not k.endswith(NUISANCE)):
            values = list(entry.sweep[key])
            kind = kind_of(values)
            axis = found.setdefault((key, kind), Axis(key, kind))
            axis.others |= set(entry.sweep) - {key}
            if kind != "numeric" and not axis.ticks:
                axis.ticks = [_tick(v, kind, i) for i, v in enumerate(values)]
            rendered = [format_value(v) for v in values]
            for c in spec.circuits:
                if c.entry != entry.name or c.circuit_id not in fidelity or key not in c.params:
                    continue
                value = c.params[key]
                x = float(value) if kind == "numeric" else rendered.index(format_value(value))
                others = ", ".join(
                    f"{k}={format_value(c.params[k])}" for k in sorted(entry.sweep) if k != key
                )
                label = f"{entry.name} ({others})" if others else entry.name
                axis.series.setdefault(label, []).append((x, fidelity[c.circuit_id]))
    return [a for _, a in sorted(found.items()) if sum(len(s) for s in a.series.values()) >= 2]


def summarise(series: Mapping[str, Sequence[Point]]) -> list[Point]:
    """Mean ± sample standard deviation at each x over all series (the nuisance spread)."""
    at: dict[float, list[float]] = {}
    for points in series.values():
        for x, m in points:
            at.setdefault(x, []).append(float(m["value"]))
    out: list[Point] = []
    for x in sorted(at):
        values = at[x]
        mean = statistics.fmean(values)
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        out.append((x, {"value": mean, "low": mean - spread, "high": mean + spread,
                        "n": len(values)}))  # fmt: skip
    return out


def _limits(points: Sequence[Mapping[str, Any]]) -> tuple[float, float]:
    """y limits around the data and its intervals (never past 0..1.02: fidelities)."""
    lows = [p["low"] if p.get("low") is not None else p["value"] for p in points]
    highs = [p["high"] if p.get("high") is not None else p["value"] for p in points]
    lo, hi = min(lows), max(highs)
    pad = max(0.12 * (hi - lo), 0.004)
    return max(0.0, lo - pad), min(1.02, hi + pad)


def draw(title: str, axis: Axis) -> bytes:
    """Fidelity (95% intervals, or mean ± s.d. when summarised) against the swept key."""
    summarised = len(axis.series) > MAX_SWEEP_SERIES
    series = {"": summarise(axis.series)} if summarised else dict(sorted(axis.series.items()))
    every = [m for points in series.values() for _, m in points]
    with _figure(2.8) as fig:
        ax = fig.add_subplot()
        connected = axis.kind == "numeric"
        for n, (label, points) in enumerate(series.items()):
            ordered = sorted(points, key=lambda p: p[0])
            # categories: the series side by side around each index, so bars do not overlap
            shift = 0.0 if connected else (n - (len(series) - 1) / 2) * 0.8 / max(len(series), 1)
            ax.errorbar([x + shift for x, _ in ordered], [m["value"] for _, m in ordered],
                        yerr=_errorbars([m for _, m in ordered]), marker="o", markersize=4,
                        capsize=3, linestyle="-" if connected else "none",
                        label=_label(label) if label else None)  # fmt: skip
        if connected:
            values = sorted({x for points in series.values() for x, _ in points})
            if len(values) <= MAX_TICKS:
                ax.set_xticks(values, [f"{v:g}" for v in values])
        else:
            ax.set_xlim(-0.6, len(axis.ticks) - 0.4)
            step = max(1, len(axis.ticks) // MAX_TICKS + (len(axis.ticks) % MAX_TICKS > 0))
            shown = range(0, len(axis.ticks), step)
            ax.set_xticks(list(shown), [axis.ticks[i] for i in shown])
        ax.set_ylim(*_limits(every))
        ax.set_xlabel(_xlabel(axis))
        ax.set_ylabel("Hellinger fidelity (ideal = 1)")
        if summarised:
            over = " × ".join(sorted(axis.others))
            title += f" (mean ± s.d. over {len(axis.series)} {over} settings)"
        set_title(ax, title)
        if any(series):
            ax.legend(loc="best", frameon=False)
        return _svg(fig)


def _xlabel(axis: Axis) -> str:
    unit = UNITS.get(axis.key)
    if axis.kind == "list" and any(t.startswith("#") for t in axis.ticks):
        return _label(f"{axis.key} (#: sweep index; values in the table)")
    return _label(f"{axis.key} ({unit})" if unit else axis.key)


def sweep_figures(
    name: str, run_id: str, spec: Spec, circuits: Sequence[Mapping[str, Any]]
) -> list[PageFigure]:
    """Fidelity against each swept key, at most MAX_SWEEP_FIGURES figures."""
    out = []
    for axis in axes_of(spec, circuits)[:MAX_SWEEP_FIGURES]:
        suffix = "" if axis.kind == "numeric" else f"-{axis.kind}"
        data = draw(f"fidelity vs {axis.key}", axis)
        path = f"figures/{name}/{run_id}-sweep-{slug(axis.key)}{suffix}.svg"
        out.append(PageFigure(path, f"fidelity against {axis.key}", data))
    return out
