"""Per-circuit analysis records and the one headline number per run.

Reports and drift tracking need the same facts in the same shape every time: what was
measured, how it compares to the noiseless ideal, and how sure we are. A circuit's record
is a frozen `CircuitAnalysis` of `Metric`s whose `to_json()` is byte-stable (sorted keys,
six significant digits), so re-rendering unchanged results changes no byte. Metrics that
only make sense for one template (Bell/GHZ populations and parity, QAOA cuts,
quantum-volume heavy outputs) live in template_metrics, looked up by template name.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from runner.analysis import stats
from runner.analysis.stats import Z95, Metric, rounded
from runner.analysis.template_metrics import QAOA_NAMES, TEMPLATE_METRICS, estimator_cut

IDEAL_HISTOGRAM_MAX = 1024  # wider ideal distributions are left out of the JSON


def _plain(value: Any) -> Any:
    """Params as JSON: tuples become lists, floats are rounded, keys are strings."""
    if isinstance(value, float):
        return rounded(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in sorted(value.items())}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value if value is None or isinstance(value, bool | int | str) else str(value)


@dataclass(frozen=True)
class CircuitAnalysis:
    """Everything concluded about one circuit (one PUB) of one run."""

    circuit_id: str
    primitive: str
    template: str | None
    params: Mapping[str, Any]
    shots: int
    counts: Mapping[str, int]
    fidelity: Metric | None
    fidelity_note: str | None
    metrics: tuple[Metric, ...]
    ideal: Mapping[str, float] | None = None
    observables: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Plain, sorted, rounded dict: identical input gives identical json.dumps bytes."""
        total = sum(self.counts.values())
        counts = sorted(self.counts.items())
        ideal = self.ideal if self.ideal and len(self.ideal) <= IDEAL_HISTOGRAM_MAX else None
        metrics: dict[str, Any] = {}
        for metric in self.metrics:
            name, n = metric.name, 2
            while name in metrics:
                name, n = f"{metric.name}#{n}", n + 1
            metrics[name] = metric.to_json()
        out = {
            "circuit_id": self.circuit_id,
            "primitive": self.primitive,
            "template": self.template,
            "params": _plain(self.params),
            "shots": self.shots,
            "counts": {k: int(v) for k, v in counts},
            "probabilities": {k: rounded(v / total) for k, v in counts} if total else {},
            "ideal_probabilities": _plain(dict(ideal)) if ideal else None,
            "fidelity": self.fidelity.to_json() if self.fidelity else None,
            "fidelity_note": self.fidelity_note,
            "metrics": dict(sorted(metrics.items())),
            "observables": list(self.observables),
        }
        return dict(sorted(out.items()))


def fidelity_metric(counts: Mapping[str, int], ideal: Mapping[str, float]) -> Metric:
    """Measured Hellinger fidelity, the 95% interval for the device's fidelity, and the
    shot-noise ceiling (a perfect device's score at this shot count) beside them.

    The measured value is biased low by finite shots (it is the ceiling for a perfect
    device); the interval is for the device's own fidelity and accounts for that bias, so
    it can lie above the measured value on wide distributions."""
    shots = sum(counts.values())
    fid = stats.hellinger_fidelity(counts, ideal)
    low, high = stats.hellinger_fidelity_interval(counts, ideal)
    ceiling, ceiling_sd = stats.shot_noise_ceiling(ideal, shots)
    b = math.sqrt(fid)
    stderr = max(ceiling_sd, 2 * b * math.sqrt(max(0.0, 1 - fid) / (4 * shots)))
    desc = (
        "Hellinger fidelity of the counts to the noiseless ideal; interval: the device's "
        "fidelity, shot-noise bias included; ceiling: a perfect device at this shot count"
    )
    return Metric(
        "hellinger_fidelity", fid, low, high, stderr, 1.0, "", desc, True, ceiling, ceiling_sd
    )


def analyse_sampler(
    circuit_id: str,
    template: str | None,
    params: Mapping[str, Any],
    counts: Mapping[str, int],
    shots: int,
    ideal: Mapping[str, float] | None,
    ideal_note: str | None = None,
) -> CircuitAnalysis:
    """Fidelity against the ideal (with a bootstrap CI) plus the template's own metrics.

    ideal_note (from ideal.ideal_note) says why ideal is None; without it the note is
    inferred from the width of the counts.
    """
    from runner.analysis.ideal import IDEAL_MAX_QUBITS

    clean: dict[str, int] = {}
    for key, n in counts.items():  # older result formats separate registers with spaces
        clean[key.replace(" ", "")] = clean.get(key.replace(" ", ""), 0) + int(n)
    width = len(next(iter(clean), ""))
    if ideal and clean and len(next(iter(ideal))) != width:
        ideal_note = f"ideal not comparable: {len(next(iter(ideal)))} bits vs {width} measured"
        ideal = None
    fidelity: Metric | None = None
    metrics: list[Metric] = []
    if ideal and clean:
        fidelity = fidelity_metric(clean, ideal)
        tvd = stats.total_variation_distance(clean, ideal)
        low, high = stats.total_variation_interval(clean, ideal)
        desc = (
            "total variation distance of the counts to the noiseless ideal; interval: the "
            "device's distance, shot-noise bias included"
        )
        metrics.append(
            Metric("total_variation_distance", tvd, low, high, None, 0.0, "", desc, False)
        )
    elif ideal_note is None:
        too_wide = f": {width} qubits > {IDEAL_MAX_QUBITS}" if width > IDEAL_MAX_QUBITS else ""
        ideal_note = f"ideal not computed{too_wide}"
    handler = TEMPLATE_METRICS.get((template or "").lower().replace("-", "_"))
    if handler is not None and clean:
        metrics[:0] = handler(params, clean, width, ideal)
    return CircuitAnalysis(
        circuit_id=circuit_id,
        primitive="sampler",
        template=template,
        params=dict(params),
        shots=int(shots),
        counts=dict(sorted(clean.items())),
        fidelity=fidelity,
        fidelity_note=None if fidelity else ideal_note,
        metrics=tuple(metrics),
        ideal=dict(ideal) if ideal else None,
    )


def analyse_estimator(
    circuit_id: str,
    template: str | None,
    params: Mapping[str, Any],
    observables: Sequence[str],
    evs: Sequence[float],
    stds: Sequence[float],
    ideal_evs: Sequence[float] | None,
    shots: int | None = None,
    ideal_note: str | None = None,
) -> CircuitAnalysis:
    """Each observable's measured ⟨O⟩ ± std against the ideal, and the gap in std errors."""
    if not len(observables) == len(evs) == len(stds):
        raise ValueError(f"{len(observables)} observables but {len(evs)} evs and {len(stds)} stds")
    if ideal_evs is not None and len(ideal_evs) != len(evs):
        raise ValueError(f"{len(evs)} evs but {len(ideal_evs)} ideal values")
    metrics: list[Metric] = []
    for i, (label, ev, std) in enumerate(zip(observables, evs, stds, strict=True)):
        ideal = None if ideal_evs is None else float(ideal_evs[i])
        desc = f"measured ⟨{label}⟩; interval ±1.96 std"
        metrics.append(
            Metric(f"ev[{label}]", ev, ev - Z95 * std, ev + Z95 * std, std, ideal, "", desc, None)
        )
        if ideal is None:
            continue
        gap = ev - ideal
        desc = f"⟨{label}⟩ − ideal; interval ±1.96 std"
        metrics.append(
            Metric(f"difference[{label}]", gap, gap - Z95 * std, gap + Z95 * std, std, 0.0,
                   "", desc, None)
        )  # fmt: skip
    if (template or "").lower().replace("-", "_") in QAOA_NAMES:
        metrics[:0] = estimator_cut(params, observables, evs, stds, ideal_evs)
    return CircuitAnalysis(
        circuit_id=circuit_id,
        primitive="estimator",
        template=template,
        params=dict(params),
        shots=int(shots or 0),
        counts={},
        fidelity=None,
        fidelity_note=ideal_note if ideal_evs is None else None,
        metrics=tuple(metrics),
        observables=tuple(observables),
    )


def _mean_metric(name: str, found: Sequence[Metric], description: str) -> Metric:
    """Mean of per-circuit metrics; the interval is the mean of their bounds (when every
    circuit's interval holds its truth, so does this one). Half-widths combined in
    quadrature around the mean value missed a noiseless run's mean fidelity of 1: fidelity
    intervals are for the device's fidelity, not centred on the biased measured value."""
    k = len(found)
    mean = sum(m.value or 0.0 for m in found) / k
    low = high = None
    if all(m.low is not None and m.high is not None for m in found):
        low = sum(m.low or 0.0 for m in found) / k
        high = sum(m.high or 0.0 for m in found) / k
    first = found[0]
    ceilings = [m.ceiling for m in found if m.ceiling is not None]
    ceiling = sum(ceilings) / k if len(ceilings) == k else None
    spreads = [m.ceiling_sd or 0.0 for m in found]
    ceiling_sd = math.sqrt(sum(x * x for x in spreads)) / k if ceiling is not None else None
    errors = [m.stderr for m in found if m.stderr is not None]
    stderr = math.sqrt(sum(e * e for e in errors)) / k if len(errors) == k else None
    return replace(
        first, name=name, value=mean, low=low, high=high, stderr=stderr,
        description=description, ceiling=ceiling, ceiling_sd=ceiling_sd,
    )  # fmt: skip


def _mean_abs_error(evs: Sequence[Metric]) -> Metric:
    """Mean |⟨O⟩ − ideal| over K observables with a 95% interval for the device's own mean.

    With independent Gaussian errors ε_i, |mean|d̂| − mean|d|| ≤ mean|ε| ≤ √(Σσ²·χ²_K)/K
    (Cauchy-Schwarz), and Σ(ε/σ)² ≤ χ²_K(0.95) in 95% of runs; so the interval holds at
    least 95% whatever the true deviations, including a perfect device (where mean|d̂| is
    biased high by about 0.8σ)."""
    from scipy.stats import chi2

    k = len(evs)
    mean = sum(abs((m.value or 0.0) - (m.ideal or 0.0)) for m in evs) / k
    variance = sum((m.stderr or 0.0) ** 2 for m in evs)
    reach = math.sqrt(variance * float(chi2.ppf(0.95, k))) / k
    stderr = math.sqrt(variance) / k
    desc = (
        f"mean |⟨O⟩ − ideal| over {k} observable(s); interval: the device's mean, "
        "shot-noise bias included"
    )
    low, high = max(0.0, mean - reach), mean + reach
    return Metric("mean_abs_ev_error", mean, low, high, stderr, 0.0, "", desc, False)


def headline(analyses: Sequence[CircuitAnalysis]) -> Metric | None:
    """The run's one number: mean fidelity, else mean |ev error|, else the commonest metric."""
    fids = [a.fidelity for a in analyses if a.fidelity and a.fidelity.value is not None]
    if fids:
        desc = (
            f"mean Hellinger fidelity to the noiseless ideal over {len(fids)} circuit(s), "
            "with the mean shot-noise ceiling"
        )
        return _mean_metric("mean_hellinger_fidelity", fids, desc)
    evs = [m for a in analyses for m in a.metrics if m.name.startswith("ev[")]
    compared = [m for m in evs if m.value is not None and m.ideal is not None]
    if compared:
        return _mean_abs_error(compared)
    primaries = [a.metrics[0] for a in analyses if a.metrics and a.metrics[0].value is not None]
    if not primaries:
        return None
    tally = Counter(m.name for m in primaries)
    name = min(tally, key=lambda n: (-tally[n], n))
    chosen = [m for m in primaries if m.name == name]
    return _mean_metric(f"mean_{name}", chosen, f"mean {name} over {len(chosen)} circuit(s)")


DISPLAY_NAMES = {
    "hellinger_fidelity": "Hellinger fidelity",
    "mean_hellinger_fidelity": "Mean fidelity",
    "mean_abs_ev_error": "Mean |⟨O⟩ − ideal|",
    "total_variation_distance": "Total variation distance",
    "population_fidelity": "Target-state population",
    "z_parity": "Z-basis parity ⟨Z…Z⟩",
    "expected_cut": "Expected cut",
    "best_cut": "Best cut seen",
    "approximation_ratio": "Approximation ratio",
    "heavy_output_probability": "Heavy-output probability",
}
"""Human names for tables; JSON keeps the machine names."""


def display_name(name: str) -> str:
    """A metric's table name: known names by the registry, others with spaces for _."""
    base, _, rest = name.partition("#")
    label = DISPLAY_NAMES.get(base) or base.replace("_", " ").capitalize()
    if base.startswith("mean_") and base not in DISPLAY_NAMES:
        label = "Mean " + display_name(base.removeprefix("mean_")).lower()
    return label + (f" #{rest}" if rest else "")
