"""SVG figures for the experiment pages, byte-deterministic and small.

Figures are committed next to the reports, so the same data must give the same bytes (no
dates, no version strings, salted ids fixed) and a page must not bloat the repository.
Size budget: at most FIGURE_BUDGET_BYTES of SVG per experiment page, which holds because
the histogram is capped at MAX_SLOTS bars of at most MAX_HISTOGRAMS circuits, the trend at
MAX_TREND_RUNS points, and text is stored as <text> (svg.fonttype "none"), not glyph paths.
matplotlib is imported only here, inside the functions, and only the Figure API is used
(no pyplot global state); mathtext is off, so `$` in a circuit id is just a dollar sign.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

FIGURE_BUDGET_BYTES = 300_000
MAX_HISTOGRAMS = 12
MAX_OUTCOMES = 16
MAX_SLOTS = 40  # outcome bars plus a gap between circuits: ~0.13 in each, a rotated label's room
MAX_TREND_RUNS = 50
_LABEL_CHARS = 70
LABEL_CHARS = 24  # a circuit's slanted label under its outcomes

_RC: dict[Any, Any] = {
    "svg.hashsalt": "qrun",
    "svg.fonttype": "none",
    "text.parse_math": False,
    "text.usetex": False,
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    # Okabe–Ito: distinguishable with every common colour-vision deficiency
    "axes.prop_cycle": "cycler(color=['#0072B2', '#E69F00', '#009E73', '#CC79A7', "
    "'#56B4E9', '#D55E00', '#F0E442', '#000000'])",
}
WIDTH = 6.0  # inches; every figure has this width so the pages line up
_CHAR_IN = 0.075  # width of one 8 pt character in inches, for sizing rotated tick labels
MEASURED, IDEAL, THRESHOLD = "#0072B2", "#BBBBBB", "#D55E00"  # Okabe–Ito blue, grey, vermilion


@contextmanager
def _figure(height: float, bottom: float = 0.5, left: float = 0.7) -> Iterator[Any]:
    """A fresh 6-inch-wide Figure with one Axes under fixed rc settings (salted ids, no
    mathtext). Margins are fixed in inches (bottom sized by the caller for its tick labels):
    constrained layout would fit them for us but costs ~2.5x the drawing time."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(WIDTH, height))
        fig.subplots_adjust(left=left / WIDTH, right=1 - 0.15 / WIDTH, top=1 - 0.3 / height,
                            bottom=bottom / height)  # fmt: skip
        yield fig


_TITLE_CHAR_IN = 0.085  # one 9 pt title character, with room for wide letters
MAX_TITLE_LINES = 4


def set_title(ax: Any, *parts: str) -> Any:
    """A left-aligned title wrapped to the Axes' width (each part on lines of its own, at
    most MAX_TITLE_LINES in all, the last cut with an ellipsis): a title never runs past
    the figure's right edge. The figure grows by the lines past the first, so the plot
    keeps its height."""
    import textwrap

    fig = ax.get_figure()
    width_in = fig.get_figwidth() * (1 - fig.subplotpars.left) - 0.15
    chars = max(20, int(width_in / _TITLE_CHAR_IN))
    lines = [line for part in parts for line in textwrap.wrap(part, chars) or [""]]
    if len(lines) > MAX_TITLE_LINES:
        lines = lines[:MAX_TITLE_LINES]
        lines[-1] = lines[-1][: chars - 1].rstrip() + "…"
    text = ax.set_title("\n".join(lines), loc="left")
    height = fig.get_figheight()
    bottom_in = fig.subplotpars.bottom * height
    plot_in = (fig.subplotpars.top - fig.subplotpars.bottom) * height
    top_in = 0.12 + 0.16 * len(lines)
    fig.set_figheight(bottom_in + plot_in + top_in)
    fig.subplots_adjust(
        bottom=bottom_in / fig.get_figheight(), top=1 - top_in / fig.get_figheight()
    )
    return text


def _svg(fig: Any) -> bytes:
    """Savefig without Date/Creator metadata; must run inside _figure's rc context."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    return buffer.getvalue()


def _axis_names(ids: Sequence[str]) -> tuple[list[str], str]:
    """Sweep ids (entry[k=v,...]) labelled by what tells them apart: the k=v pairs that
    vary (those every shown circuit shares are in the spec), and the entry name only when
    the circuits come from several entries. Labels past LABEL_CHARS keep only the values,
    the keys going to the title. Returns the labels and what the title adds ("of ghz",
    "of ghz by (num_qubits, phase_index)")."""
    points = [re.fullmatch(r"([^\[\]]+)\[([^\[\]]*)\]", cid) for cid in ids]
    matched = [p for p in points if p is not None]
    if len(ids) < 2 or len(matched) < len(ids):
        return list(ids), ""
    pairs = [p.group(2).split(",") for p in matched]
    shared = set.intersection(*(set(own) for own in pairs))
    varying = [[pair for pair in own if pair not in shared] for own in pairs]
    entries = sorted({p.group(1) for p in matched})
    if len(entries) > 1 or not all(varying):
        return [f"{p.group(1)}[{','.join(v)}]" if v else p.group(1)
                for p, v in zip(matched, varying, strict=True)], ""  # fmt: skip
    labels = [", ".join(v) for v in varying]
    if max(map(len, labels)) <= LABEL_CHARS:
        return labels, f" of {entries[0]}"
    keys = list(dict.fromkeys(pair.partition("=")[0] for v in varying for pair in v))
    values = [", ".join(pair.partition("=")[2] for pair in v) for v in varying]
    by = keys[0] if len(keys) == 1 else f"({', '.join(keys)})"
    return values, f" of {entries[0]} by {by}"


def _shorten(label: str, limit: int) -> str:
    """A circuit label within `limit` characters: the entry name gives way first, since the
    sweep values after it are what tells circuits apart (entry…[n=1])."""
    if len(label) <= limit:
        return label
    point = re.fullmatch(r"([^\[\]]+)(\[[^\[\]]*\])", label)
    if point and len(point[2]) <= limit - 4:
        return point[1][: limit - len(point[2]) - 1] + "…" + point[2]
    return label[: limit - 1] + "…"


def _label(text: str) -> str:
    return text if len(text) <= _LABEL_CHARS else text[: _LABEL_CHARS - 1] + "…"


def top_outcomes(
    measured: Mapping[str, float], ideal: Mapping[str, float] | None, limit: int = MAX_OUTCOMES
) -> list[str]:
    """The `limit` most likely outcomes (measured or ideal), in bitstring order."""
    ideal = ideal or {}
    keys = set(measured) | set(ideal)
    ranked = sorted(keys, key=lambda k: (-max(measured.get(k, 0.0), ideal.get(k, 0.0)), k))
    return sorted(ranked[:limit])


def histogram(
    title: str, circuits: Sequence[tuple[str, Mapping[str, float], Mapping[str, float] | None]]
) -> bytes:
    """Measured vs ideal probabilities of each circuit's most likely outcomes.

    Several circuits share one Axes, side by side, each labelled under its outcomes: one
    Axes draws ~4x faster than small multiples, and a sweep reads left to right. Each
    circuit shows as many of its top outcomes as MAX_SLOTS leaves room for (at least 2, at
    most MAX_OUTCOMES).
    """
    gaps = len(circuits) - 1
    per_circuit = max(2, min(MAX_OUTCOMES, (MAX_SLOTS - gaps) // len(circuits)))
    xs: list[float] = []
    keys: list[str] = []
    measured_p: list[float] = []
    ideal_p: list[float] = []
    groups: list[tuple[float, str]] = []
    hidden = 0
    rest = 0.0  # the largest probability (measured or ideal) left out of one circuit's bars
    for cid, measured, ideal in circuits:
        top = top_outcomes(measured, ideal, per_circuit)
        hidden += len(set(measured) | set(ideal or {})) - len(top)
        rest = max(rest, 1 - sum(measured.get(k, 0.0) for k in top),
                   1 - sum((ideal or {}).get(k, 0.0) for k in top) if ideal else 0.0)  # fmt: skip
        start = len(xs) + len(groups)  # one empty slot between circuits
        xs.extend(range(start, start + len(top)))
        keys.extend(top)
        measured_p.extend(measured.get(k, 0.0) for k in top)
        ideal_p.extend((ideal or {}).get(k, 0.0) for k in top)
        groups.append(((2 * start + len(top) - 1) / 2, cid))
    has_ideal = any(ideal for _, _, ideal in circuits)
    rotate = len(keys) > 8 or max(len(k) for k in keys) > 4
    outcome_in = 0.1 + (_CHAR_IN * max(len(k) for k in keys) if rotate else 0.15)
    labels, caption = _axis_names([cid for _, cid in groups])
    names = [_shorten(name, LABEL_CHARS) for name in labels]
    bottom, left = 0.3 + outcome_in, 0.7  # room for the x label under the outcomes
    if len(circuits) > 1:  # no x label; ids slant down-left under their outcomes (30 degrees)
        bottom = 0.2 + outcome_in + 0.5 * _CHAR_IN * max(map(len, names))
        # the first id must not run off the left edge: solve for the left margin
        share = (groups[0][0] + 1) / (xs[-1] + 2)  # its centre's place along xlim (-1, last + 1)
        reach = 0.87 * _CHAR_IN * len(names[0])
        left = max(left, (reach - share * (WIDTH - 0.15)) / (1 - share))
    with _figure(2.2 + bottom, bottom=bottom, left=left) as fig:
        ax = fig.add_subplot()
        width = 0.4 if has_ideal else 0.8
        offset = width / 2 if has_ideal else 0.0
        ax.bar([x - offset for x in xs], measured_p, width, color=MEASURED, label="measured")
        if has_ideal:
            ax.bar([x + offset for x in xs], ideal_p, width, color=IDEAL,
                   label="ideal (noiseless)")  # fmt: skip
        ax.set_xticks(xs, keys, rotation=90 if rotate else 0, fontfamily="monospace")
        ax.set_ylabel("probability")
        ax.set_xlim(-1, xs[-1] + 1)
        # scaled to the tallest bar (a uniform 1/16 is not squashed), with a band on top for
        # the legend, clear of any bar
        ax.set_ylim(0, min(1.0, max(measured_p + ideal_p)) * 1.3)
        if len(circuits) > 1:
            for (centre, _), name in zip(groups, names, strict=True):
                ax.annotate(name, (centre, 0), xycoords=ax.get_xaxis_transform(),
                            xytext=(0, -72 * outcome_in), textcoords="offset points",
                            rotation=30, ha="right", va="top")  # fmt: skip
            each = f" (top {per_circuit} of each; the rest hold ≤ {rest:.2g})" if hidden else ""
            set_title(ax, title + caption + each)
        else:
            total = len(keys) + hidden
            ax.set_xlabel(
                f"top {len(keys)} of {total} outcomes; the other {hidden} hold "
                f"{rest:.2g} of the probability"
                if hidden
                else "outcome"
            )
            set_title(ax, groups[0][1])
        ax.legend(loc="upper right", ncols=2, frameon=False)
        return _svg(fig)


def _errorbars(points: Sequence[Mapping[str, Any]]) -> list[list[float]]:
    """Asymmetric error bars from low/high (0 where a point has no interval)."""
    below = [max(0.0, p["value"] - p["low"]) if p.get("low") is not None else 0.0 for p in points]
    above = [max(0.0, p["high"] - p["value"]) if p.get("high") is not None else 0.0 for p in points]
    return [below, above]


def trend(
    title: str,
    runs: Sequence[tuple[str, str, Mapping[str, Any]]],
    threshold: float | None,
    ylabel: str,
) -> bytes:
    """Headline metric per completed run (id, backend, metric), 95% intervals, one colour per backend."""
    runs = list(runs)[-MAX_TREND_RUNS:]
    rotate = len(runs) > 12
    with _figure(3.0, bottom=0.75 if rotate else 0.5) as fig:
        ax = fig.add_subplot()
        for backend in sorted({b for _, b, _ in runs}):
            picked = [(i, m) for i, (_, b, m) in enumerate(runs) if b == backend]
            metrics = [m for _, m in picked]
            ax.errorbar([i for i, _ in picked], [m["value"] for m in metrics],
                        yerr=_errorbars(metrics), marker="o", linestyle="none", capsize=3,
                        label=_label(backend))  # fmt: skip
        ax.plot(range(len(runs)), [m["value"] for _, _, m in runs], color=IDEAL, zorder=0)
        if threshold is not None:
            ax.axhline(threshold, color=THRESHOLD, linestyle="--", linewidth=1, label="threshold")
        ax.set_xticks(range(len(runs)), [run_id.split("-")[0] for run_id, _, _ in runs],
                      rotation=90 if rotate else 0)  # fmt: skip
        ax.set_xlabel("run")
        ax.set_ylabel(ylabel if len(ylabel) <= 32 else ylabel[:31] + "…")
        set_title(ax, title)
        ax.legend(loc="lower left", frameon=False)
        return _svg(fig)


def comparison(
    title: str, circuits: Sequence[str], by_target: Mapping[str, Mapping[str, Mapping[str, Any]]]
) -> bytes:
    """Grouped bars: per circuit, the fidelity (95% interval) on each target, side by side."""
    import numpy as np

    targets = sorted(by_target)
    shown = list(circuits)[:MAX_HISTOGRAMS]
    width = 0.8 / max(len(targets), 1)
    with _figure(3.0, bottom=0.9) as fig:
        ax = fig.add_subplot()
        xs = np.arange(len(shown))
        for n, target in enumerate(targets):
            metrics = [by_target[target].get(c) for c in shown]
            values = [m["value"] if m else 0.0 for m in metrics]
            bars = [m if m else {"value": 0.0} for m in metrics]
            ax.bar(xs + (n - (len(targets) - 1) / 2) * width, values, width, yerr=_errorbars(bars),
                   capsize=2, label=_label(target))  # fmt: skip
        ax.set_xticks(xs, [_label(c)[:24] for c in shown], rotation=30, ha="right")
        ax.set_ylabel("Hellinger fidelity")
        ax.set_ylim(0, 1.3)  # headroom for the legend above the bars
        ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
        set_title(ax, title)
        ax.legend(loc="upper center", frameon=False, ncols=min(len(targets), 4))
        return _svg(fig)


@dataclass(frozen=True)
class PageFigure:
    """One figure of a page: where it goes under reports/, its alt text (raw), its bytes."""

    path: str
    alt: str
    data: bytes


def slug(text: str) -> str:
    """A file-name-safe, collision-free stand-in for a circuit id or parameter name."""
    readable = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "x"
    return f"{readable}-{hashlib.sha256(text.encode()).hexdigest()[:6]}"


def natural_key(text: Any) -> tuple[Any, ...]:
    """Sort key that orders the numbers in ids by value: seed=2 before seed=10."""
    parts = re.split(r"(-?\d+(?:\.\d+)?)", str(text))
    return tuple((0, float(p), "") if i % 2 else (1, 0.0, p) for i, p in enumerate(parts))


def histogram_circuits(circuits: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The circuits the run's histogram shows: every circuit with counts, or MAX_HISTOGRAMS
    of them evenly spaced (first and last included) so a sweep's whole range is seen."""
    counted = sorted(
        (c for c in circuits if c.get("probabilities")), key=lambda c: natural_key(c["circuit_id"])
    )
    if len(counted) <= MAX_HISTOGRAMS:
        return counted
    step = (len(counted) - 1) / (MAX_HISTOGRAMS - 1)
    return [counted[round(i * step)] for i in range(MAX_HISTOGRAMS)]


def histogram_figure(
    name: str, run_id: str, circuits: Sequence[Mapping[str, Any]], budget: int
) -> PageFigure | None:
    """One histogram of the given circuits (see histogram_circuits), if within `budget` bytes."""
    if not circuits:
        return None
    shown = [
        (str(c["circuit_id"]), c["probabilities"], c.get("ideal_probabilities")) for c in circuits
    ]
    data = histogram(f"{name}: measured vs ideal outcomes", shown)
    if len(data) > budget:
        return None
    ids = [cid for cid, _, _ in shown]
    which = ", ".join(ids) if len(ids) <= 3 else f"{len(ids)} circuits, {ids[0]} to {ids[-1]}"
    return PageFigure(
        f"figures/{name}/{run_id}-hist.svg", f"measured vs ideal outcomes of {which}", data
    )


def trend_figure(
    name: str, runs: Sequence[tuple[str, str, Mapping[str, Any]]], threshold: float | None
) -> PageFigure | None:
    """The headline metric across completed runs, when there are at least two."""
    if len(runs) < 2:
        return None
    last = runs[-1][2]
    metric = str(last.get("label") or last.get("name", "headline"))
    ylabel = f"{metric} ({last['unit']})" if last.get("unit") else metric
    data = trend(f"{name}: {metric} per run", runs, threshold, ylabel)
    return PageFigure(f"figures/{name}/trend.svg", f"trend of {metric} across runs", data)


def comparison_figure(
    name: str, circuits: Sequence[str], by_target: Mapping[str, Mapping[str, Mapping[str, Any]]]
) -> PageFigure | None:
    """Side-by-side fidelity of the latest completed run on each target (two or more)."""
    if len(by_target) < 2 or not circuits:
        return None
    data = comparison(f"{name}: fidelity by target", circuits, by_target)
    return PageFigure(f"figures/{name}/targets.svg", "fidelity per circuit on each target", data)
