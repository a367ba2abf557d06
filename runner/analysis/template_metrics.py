"""Metrics that only make sense for one template, looked up by template name.

Bell and GHZ target-state populations and the Z-basis parity, QAOA cuts (from counts or
from the estimator's ZZ observables) and quantum-volume heavy outputs; each handler returns
Metrics with their noiseless ideal and a 95% interval, in the order the page shows them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from runner.analysis import stats
from runner.analysis.stats import Z95, Metric

MAXCUT_MAX_NODES = 20  # brute force: 2^19 partitions at 20 nodes

Ideal = Mapping[str, float] | None
Handler = Callable[[Mapping[str, Any], dict[str, int], int, Ideal], list[Metric]]
_BELL = {"phi+": ("00", "11", 1.0), "phi-": ("00", "11", 1.0)}
_BELL |= {"psi+": ("01", "10", -1.0), "psi-": ("01", "10", -1.0)}
_CI = "interval ±1.96 stderr"


def _pair_metrics(counts: dict[str, int], a: str, b: str, parity_ideal: float) -> list[Metric]:
    """Population of the two target states (Wilson CI) and ⟨Z…Z⟩ with its standard error."""
    shots = sum(counts.values())
    hits = counts.get(a, 0) + counts.get(b, 0)
    low, high = stats.wilson_interval(hits, shots)
    desc = f"P({a}) + P({b}); 95% Wilson interval"
    population = Metric("population_fidelity", hits / shots, low, high, None, 1.0, "", desc)
    zs = "Z" * len(a)
    ev = stats.expectation_from_counts(counts, zs)
    se = stats.expectation_stderr(ev, shots)
    sense = {1.0: True, -1.0: False}.get(parity_ideal)  # None: closer to 0 is better
    desc = f"Z-basis parity ⟨{zs}⟩ from counts, ideal {parity_ideal:+g}; {_CI}"
    low, high = max(-1.0, ev - Z95 * se), min(1.0, ev + Z95 * se)
    return [population, Metric("z_parity", ev, low, high, se, parity_ideal, "", desc, sense)]


def _bell(params: Mapping[str, Any], counts: dict[str, int], width: int, _: Any) -> list[Metric]:
    raw = str(params.get("variant", params.get("state", "phi+"))).lower()
    for old, new in (("φ", "phi"), ("ϕ", "phi"), ("ψ", "psi"), ("plus", "+"), ("minus", "-")):
        raw = raw.replace(old, new)
    key = raw.replace("_", "").strip("|⟩> ")
    return _pair_metrics(counts, *_BELL[key]) if key in _BELL and width == 2 else []


def _ghz(params: Mapping[str, Any], counts: dict[str, int], width: int, _: Any) -> list[Metric]:
    """GHZ populations and the Z-basis parity ⟨Z…Z⟩ (ideal +1 for even widths, 0 for odd):
    not a GHZ state fidelity, which needs X-basis parity oscillations."""
    ideal = 1.0 if width % 2 == 0 else 0.0
    return _pair_metrics(counts, "0" * width, "1" * width, ideal)


def _qaoa(
    params: Mapping[str, Any], counts: dict[str, int], width: int, ideal: Ideal
) -> list[Metric]:
    edges = [tuple(e) for e in params.get("edges", ())]
    nodes = max([int(params.get("num_nodes", 0))] + [max(int(e[0]), int(e[1])) + 1 for e in edges])
    if not edges or nodes > width:
        return []
    shots = sum(counts.values())
    cut = {k: stats.cut_value(k, edges) for k in counts}
    mean = sum(cut[k] * n for k, n in counts.items()) / shots
    se = math.sqrt(
        sum(n * (cut[k] - mean) ** 2 for k, n in counts.items()) / max(1, shots - 1) / shots
    )
    ideal_mean = sum(p * stats.cut_value(k, edges) for k, p in ideal.items()) if ideal else None
    optimum = stats.max_cut(edges, nodes) if nodes <= MAXCUT_MAX_NODES else None
    low, high, unit = mean - Z95 * se, mean + Z95 * se, "edge weight"
    desc = f"mean cut over shots, ideal = noiseless mean; {_CI}"
    out = [Metric("expected_cut", mean, low, high, se, ideal_mean, unit, desc)]
    desc = "largest cut among measured bitstrings, ideal = max cut"
    out.append(Metric("best_cut", max(cut.values()), None, None, None, optimum, unit, desc))
    if optimum is not None and optimum > 0:
        ratio_ideal = None if ideal_mean is None else ideal_mean / optimum
        desc = f"expected cut / max cut ({optimum:g}), ideal = noiseless ratio; {_CI}"
        values = (mean / optimum, low / optimum, high / optimum, se / optimum)
        out.insert(0, Metric("approximation_ratio", *values, ratio_ideal, "", desc))
    return out


def _edge_label(i: int, j: int, width: int) -> str:
    """The Pauli string Z_i Z_j on `width` qubits (qubit 0 rightmost)."""
    return "".join("Z" if k in (i, j) else "I" for k in reversed(range(width)))


def estimator_cut(
    params: Mapping[str, Any],
    observables: Sequence[str],
    evs: Sequence[float],
    stds: Sequence[float],
    ideal_evs: Sequence[float] | None,
) -> list[Metric]:
    """Expected cut Σ w (1 − ⟨Z_i Z_j⟩)/2 and approximation ratio from the ZZ observables.

    The ZZ estimates come from the same shots and may be correlated, so their errors are
    added linearly (Cauchy-Schwarz: never smaller than the true standard error)."""
    edges = [tuple(e) for e in params.get("edges", ())]
    if not edges or not observables:
        return []
    width = len(observables[0])
    index = {label.upper(): k for k, label in enumerate(observables)}
    terms = []
    for edge in edges:
        i, j = int(edge[0]), int(edge[1])
        k = index.get(_edge_label(i, j, width)) if max(i, j) < width else None
        if k is None:
            return []  # some edge has no ZZ observable: the cut cannot be formed
        terms.append((float(edge[2]) if len(edge) > 2 else 1.0, k))
    mean = sum(w * (1 - evs[k]) / 2 for w, k in terms)
    se = sum(abs(w) * stds[k] / 2 for w, k in terms)
    ideal = None if ideal_evs is None else sum(w * (1 - ideal_evs[k]) / 2 for w, k in terms)
    nodes = max(max(int(e[0]), int(e[1])) for e in edges) + 1
    optimum = stats.max_cut(edges, nodes) if nodes <= MAXCUT_MAX_NODES else None
    unit = "edge weight"
    desc = f"Σ w (1 − ⟨ZZ⟩)/2 over the edges, ideal = noiseless; {_CI} (errors added linearly)"
    low, high = mean - Z95 * se, mean + Z95 * se
    out = [Metric("expected_cut", mean, low, high, se, ideal, unit, desc)]
    if optimum:
        desc = f"expected cut / max cut ({optimum:g}), ideal = noiseless ratio; {_CI}"
        ratio_ideal = None if ideal is None else ideal / optimum
        values = (mean / optimum, low / optimum, high / optimum, se / optimum)
        out.insert(0, Metric("approximation_ratio", *values, ratio_ideal, "", desc))
    return out


def _qv(
    params: Mapping[str, Any], counts: dict[str, int], width: int, ideal: Ideal
) -> list[Metric]:
    if not ideal:
        return []
    heavy = stats.heavy_outputs(ideal, width)
    shots = sum(counts.values())
    hits = sum(n for k, n in counts.items() if k in heavy)
    hop = hits / shots
    low, high = stats.wilson_interval(hits, shots, z=2.0)
    desc = "share of shots in the heavy set (ideal prob > median); two-sigma Wilson interval"
    se = math.sqrt(hop * (1 - hop) / shots)
    hop_metric = Metric(
        "heavy_output_probability", hop, low, high, se, sum(ideal[k] for k in heavy), "", desc
    )
    # No per-circuit pass/fail: the protocol's verdict is over all circuits of a width
    # (runner/fits/quantum_volume.py), and a 0/1 per circuit read as an error on the page.
    return [hop_metric]


TEMPLATE_METRICS: dict[str, Handler] = {"bell": _bell, "ghz": _ghz, "quantum_volume": _qv}
QAOA_NAMES = ("qaoa", "qaoa_maxcut", "maxcut")
TEMPLATE_METRICS |= dict.fromkeys(QAOA_NAMES, _qaoa) | {"qv": _qv}
