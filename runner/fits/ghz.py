"""GHZ-state fidelity F = (P + C)/2 from populations and parity oscillations.

P is the population of |0…0⟩ and |1…1⟩ (phase_index 0). C, the coherence 2|ρ(0…0,1…1)|,
is the amplitude of the parity ⟨⊗(cos φ X + sin φ Y)⟩ = C·cos(nφ + δ), fitted by weighted
least squares as a·cos(nφ) + b·sin(nφ) over the measured phases (the method's 2n+2 phases
φ = kπ/(n+1) make the two terms orthogonal). An entry may sweep several widths: each gets
its own fidelity.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from runner.analysis import stats
from runner.fits.curves import Z95, curve, fit_curve, quality
from runner.fits.data import EntryData
from runner.fits.result import EntryResult, Param, Quality, Series
from runner.templates.characterisation import ghz_phase

VERSION = 1


def _parity(counts: Mapping[str, int]) -> tuple[float, float]:
    """⟨Z…Z⟩ and its standard error (floored at one shot's worth, so no point is exact)."""
    shots = sum(counts.values())
    ev = sum((-1) ** key.count("1") * n for key, n in counts.items()) / shots
    return ev, math.sqrt(max(1 - ev * ev, 1 / shots) / shots)


def _width(data: EntryData, n: int) -> tuple[list[Param], list[Param], Series, Quality]:
    circuits = [c for c in data.circuits if int(c["params"]["num_qubits"]) == n]
    population = [c for c in circuits if int(c["params"]["phase_index"]) == 0]
    parity = sorted((ghz_phase(n, int(c["params"]["phase_index"])), *_parity(c["counts"]))
                    for c in circuits if int(c["params"]["phase_index"]) >= 1)  # fmt: skip
    phis, evs, ses = ([p[i] for p in parity] for i in range(3))

    def model(phi: Any, a: float, b: float) -> Any:
        import numpy as np

        return a * np.cos(n * phi) + b * np.sin(n * phi)

    fit = fit_curve(model, phis, evs, ses, (1.0, 0.0), ([-1.5, -1.5], [1.5, 1.5]))
    tag = f"[n={n}]"
    fx, fy = curve(model, fit, 0.0, max(phis, default=0.0))
    series = Series(f"n = {n}", tuple(phis), tuple(evs), tuple(ses), fx, fy)
    if not population or fit.values is None or fit.stderrs is None:
        why = "no population circuit (phase_index 0)" if not population else fit.error
        return [], [], series, Quality(False, f"n={n}: {why or 'fit failed'}", None, fit.dof)
    hits = sum(c["counts"].get("0" * n, 0) + c["counts"].get("1" * n, 0) for c in population)
    shots = sum(sum(c["counts"].values()) for c in population)
    low, high = stats.wilson_interval(hits, shots)
    pop = hits / shots
    se_p = (high - low) / (2 * Z95)
    (a, b), (sa, sb) = fit.values, fit.stderrs
    coherence = math.hypot(a, b)
    se_c = math.hypot(a * sa, b * sb) / coherence if coherence > 0 else math.hypot(sa, sb)
    fidelity = (pop + coherence) / 2
    se_f = math.hypot(se_p, se_c) / 2
    f_metric = Param(f"ghz_fidelity{tag}", fidelity, fidelity - Z95 * se_f,
                     fidelity + Z95 * se_f, se_f, "", "(P + C)/2; ideal 1", True)  # fmt: skip
    params = [
        Param(f"population{tag}", pop, low, high, se_p, "", "P(0…0) + P(1…1); Wilson 95%"),
        Param(f"coherence{tag}", coherence, coherence - Z95 * se_c, coherence + Z95 * se_c,
              se_c, "", "amplitude of the parity oscillation"),
    ]  # fmt: skip
    verdict = quality(fit, f_metric)
    if len(set(phis)) < 2 * n + 2:
        verdict = Quality(verdict.good, verdict.reason + f"; {len(set(phis))} of the method's "
                          f"{2 * n + 2} phases measured", verdict.reduced_chi2, verdict.dof)  # fmt: skip
    return [f_metric], params, series, verdict


def ghz_parity(data: EntryData) -> EntryResult:
    """ghz_fidelity per width with its 95% interval (ideal 1)."""
    widths = sorted({int(c["params"]["num_qubits"]) for c in data.circuits})
    metrics, params, series, verdicts = [], [], [], []
    for n in widths:
        m, p, s, q = _width(data, n)
        metrics += m
        params += p
        series.append(s)
        verdicts.append(q)
    bad = [q.reason for q in verdicts if not q.good]
    chi2s = [q.reduced_chi2 for q in verdicts if q.reduced_chi2 is not None]
    verdict = Quality(not bad, "; ".join(bad) if bad else "; ".join(q.reason for q in verdicts),
                      max(chi2s) if chi2s else None,
                      sum(q.dof or 0 for q in verdicts))  # fmt: skip
    return EntryResult(
        analysis="ghz_parity", version=VERSION, entry=data.entry, layout=data.layout,
        metrics=tuple(metrics), parameters=tuple(params), quality=verdict, series=tuple(series),
        x_label="parity phase φ (rad)", y_label="parity ⟨P(φ)⟩",
    )  # fmt: skip
