"""Numbers from measured and ideal distributions, with honest uncertainty.

Reports compare hardware counts against the noiseless ideal, and a number without an
interval invites reading drift into shot noise. Everything here is a pure function of
plain dicts (bitstrings as qiskit prints them: qubit/clbit 0 rightmost), so the report
layer and the tests can call it without qiskit. numpy is imported only where vectorising
pays (the seeded bootstrap, the brute-force max cut). `Metric` is the record every
reported number travels in, so drift tracking can compare runs field by field.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

Z95 = 1.96  # two-sided 95% normal quantile: the one confidence convention of every page
BOOTSTRAP_SEED = 20240917  # fixed: the same ideal always gives the same ceiling bytes

Edge = tuple[int, int] | tuple[int, int, float]


def rounded(x: float | None) -> float | None:
    """Six significant digits, no NaN/inf (not JSON), no negative zero: stable bytes."""
    if x is None or not math.isfinite(x):
        return None
    return float(f"{x:.6g}") + 0.0


@dataclass(frozen=True)
class Metric:
    """One number with its uncertainty; higher_is_better None means "closer to ideal".

    low/high bound a 95% interval unless the description says otherwise; ideal is what a
    noiseless device would score, ceiling ± ceiling_sd what it scores at the run's shot
    count (set for fidelities only); drift tracking compares runs through these fields.
    """

    name: str
    value: float | None
    low: float | None = None
    high: float | None = None
    stderr: float | None = None
    ideal: float | None = None
    unit: str = ""
    description: str = ""
    higher_is_better: bool | None = True
    ceiling: float | None = None
    ceiling_sd: float | None = None

    def to_json(self) -> dict[str, Any]:
        """Plain dict, sorted keys, floats rounded (an absent ceiling is left out)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        for key in ("value", "low", "high", "stderr", "ideal", "ceiling", "ceiling_sd"):
            out[key] = rounded(out[key])
        if out["ceiling"] is None:
            del out["ceiling"], out["ceiling_sd"]
        return dict(sorted(out.items()))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Metric:
        """Inverse of to_json (up to rounding), for readers of analysis.json."""
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


def _total(dist: Mapping[str, float]) -> float:
    total = float(sum(dist.values()))
    if total <= 0:
        raise ValueError("distribution is empty (total weight 0)")
    return total


def hellinger_fidelity(p: Mapping[str, float], q: Mapping[str, float]) -> float:
    """(Σ √(p_i q_i))², the classical fidelity; same value as qiskit's hellinger_fidelity.

    Both arguments may be counts or probabilities: each is normalised first. Only the
    smaller dict is walked, so counts against a 2^20-outcome ideal stay cheap.
    """
    small, big = (p, q) if len(p) <= len(q) else (q, p)
    norm = _total(small) * _total(big)
    bc = sum(math.sqrt(v * big[k] / norm) for k, v in small.items() if k in big)
    return min(bc * bc, 1.0)


def total_variation_distance(p: Mapping[str, float], q: Mapping[str, float]) -> float:
    """½ Σ |p_i − q_i| over the union of outcomes: the largest event-probability gap."""
    small, big = (p, q) if len(p) <= len(q) else (q, p)
    st, bt = _total(small), _total(big)
    shared = sum(abs(v / st - big.get(k, 0.0) / bt) for k, v in small.items())
    big_elsewhere = 1.0 - sum(big[k] for k in small if k in big) / bt
    return min(1.0, 0.5 * (shared + max(0.0, big_elsewhere)))


def wilson_interval(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion: sane at 0 and at n successes."""
    if trials <= 0:
        return (0.0, 1.0)
    if not 0 <= successes <= trials:
        raise ValueError(f"successes must be in [0, {trials}] (got {successes})")
    phat = successes / trials
    z2 = z * z
    denom = 1 + z2 / trials
    centre = (phat + z2 / (2 * trials)) / denom
    half = z * math.sqrt(phat * (1 - phat) / trials + z2 / (4 * trials * trials)) / denom
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return (low, high)


def clopper_pearson_interval(
    successes: int, trials: int, confidence: float = 0.95
) -> tuple[float, float]:
    """The exact (Clopper-Pearson) binomial interval: at least `confidence` for every true
    rate, where Wilson's dips to ~90% near 0 and 1 (readout errors, near-perfect circuits)."""
    from scipy.stats import beta

    if trials <= 0:
        return (0.0, 1.0)
    if not 0 <= successes <= trials:
        raise ValueError(f"successes must be in [0, {trials}] (got {successes})")
    tail = (1 - confidence) / 2
    low = 0.0 if successes == 0 else float(beta.ppf(tail, successes, trials - successes + 1))
    high = (
        1.0 if successes == trials else float(beta.ppf(1 - tail, successes + 1, trials - successes))
    )
    return (low, high)


def hellinger_fidelity_interval(
    counts: Mapping[str, int], ideal: Mapping[str, float], confidence: float = 0.95
) -> tuple[float, float]:
    """Confidence interval for the device's fidelity F = B², B = Σ √(p_i q_i), to ideal q.

    Resampling only the observed outcomes cannot see the probability a finite run missed, so
    on wide distributions it covered the truth in 0-29% of repeats. This interval combines
    bounds that hold for every device distribution p, each taken at a quarter of the miss
    rate so that together they cover at least `confidence`:

    - the plug-in B̂ = Σ √(q_i n_i/N) is biased low (Jensen), so B̂ − z·sd is a lower bound;
      B̂ + (a bound on that bias) + z·sd an upper one;
    - Cauchy-Schwarz and Hölder: s³/D ≤ F ≤ s, with s = Σ_S p_i the mass on the ideal's
      support and D = Σ_S p_i²/q_i (estimated without bias from repeated outcomes); both
      equal F when the device is perfect or only leaks weight off the support, which keeps
      the interval tight on wide distributions with few shots per outcome.

    Measured coverage and widths: benchmarks/interval_coverage.py.
    """
    from statistics import NormalDist

    shots = sum(int(v) for v in counts.values())
    if shots == 0:
        return (0.0, 1.0)
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 4)  # one-sided, a quarter of the misses
    total = _total(ideal)
    inside = sum(int(n) for k, n in counts.items() if ideal.get(k, 0.0) > 0)
    if sum(1 for w in ideal.values() if w > 0) == 1:  # F is exactly the mass on that outcome
        return clopper_pearson_interval(inside, shots, confidence)
    s_low, s_high = wilson_interval(inside, shots, z)
    d_high = _collision_upper(counts, ideal, total, shots, z)
    b_hat, bias = _plug_in(counts, ideal, total, shots)
    sd = math.sqrt(max(0.0, 1.0 - b_hat * b_hat) / (4 * shots))
    low = max(b_hat - z * sd, math.sqrt(s_low**3 / d_high) if d_high > 0 else 0.0, 0.0)
    # the plug-in's sd vanishes when the counts match the ideal exactly (every shot inside,
    # in proportion): F <= s then keeps the lower bound from claiming F = 1 outright
    low = min(low, math.sqrt(s_low))
    high = min(b_hat + bias + z * sd, math.sqrt(s_high), 1.0)
    return (min(low, high) ** 2, high**2)


def total_variation_interval(
    counts: Mapping[str, int], ideal: Mapping[str, float], confidence: float = 0.95
) -> tuple[float, float]:
    """Confidence interval for the device's total variation distance T to the ideal q.

    The measured T̂ is biased high by finite shots (a perfect device on 1,024 outcomes
    measures about 0.2 at 4,096 shots), so T̂ ± sd would miss a perfect device. The bounds
    hold for every device distribution:

    - upper: E T̂ ≥ T (T̂ = 1 − Σ min(p̂, q) and min is concave), and one shot moves T̂ by at
      most 1/N, so McDiarmid gives T ≤ T̂ + √(ln(1/α)/(2N)); and T ≤ √(1 − F) for the
      fidelity's lower bound;
    - lower: T ≥ 1 − √F for the fidelity's upper bound; T ≥ the mass off the ideal's
      support (a fixed event), Wilson-bounded; and E T̂ ≤ T + E TVD(p̂, p) ≤ T + ½√((K−1)/N)
      over the K = 2^bits possible outcomes, so T ≥ T̂ − ½√((K−1)/N) − the McDiarmid term
      (tight when shots outnumber outcomes);
    - a one-outcome ideal (a basis state: T1 points, readout) makes T exactly the mass off
      the support, 1 − F: its exact binomial interval is the answer.

    Measured coverage and widths: benchmarks/interval_coverage.py.
    """
    from statistics import NormalDist

    shots = sum(int(v) for v in counts.values())
    if shots == 0:
        return (0.0, 1.0)
    miss = (1 - confidence) / 4
    f_low, f_high = hellinger_fidelity_interval(counts, ideal, confidence)
    if sum(1 for w in ideal.values() if w > 0) == 1:  # T = 1 − F exactly, F's interval exact
        return (1.0 - f_high, 1.0 - f_low)
    outside = sum(int(n) for k, n in counts.items() if ideal.get(k, 0.0) <= 0)
    z = NormalDist().inv_cdf(1 - miss)
    off_low, _ = wilson_interval(outside, shots, z)
    spread = math.sqrt(math.log(1 / miss) / (2 * shots))
    measured = total_variation_distance(counts, ideal)
    bits = len(next(iter(counts)).replace(" ", ""))
    sampling = 0.5 * math.sqrt((2.0 ** min(bits, 64) - 1) / shots)
    high = min(measured + spread, math.sqrt(1 - f_low), 1.0)
    low = max(1 - math.sqrt(f_high), off_low, measured - sampling - spread, 0.0)
    return (min(low, high), high)


def _plug_in(
    counts: Mapping[str, int], ideal: Mapping[str, float], total: float, shots: int
) -> tuple[float, float]:
    """B̂ and an upper bound on its downward bias Σ √q_i (√p_i − E√p̂_i).

    Per outcome the bias is at most min(√p, (1−p)/(2N√p)) ≤ 1/√(2N) (from √t ≥ 1 + (t−1)/2
    − (t−1)²/2); p is bounded below by n − 2√n counts, and outcomes seen fewer than 9 times
    or not at all take the worst case."""
    worst = 1 / math.sqrt(2 * shots)
    b_hat = bias = 0.0
    for key, weight in ideal.items():
        q = weight / total
        if q <= 0:
            continue
        n = int(counts.get(key, 0))
        b_hat += math.sqrt(q * n / shots)
        p_low = (n - 2 * math.sqrt(n)) / shots
        per = worst if n < 9 else min(worst, (1 - p_low) / (2 * shots * math.sqrt(p_low)))
        bias += math.sqrt(q) * per
    return b_hat, bias


def _collision_upper(
    counts: Mapping[str, int], ideal: Mapping[str, float], total: float, shots: int, z: float
) -> float:
    """Upper confidence bound on D = Σ_S p_i² / q_i from the counts on the ideal's support.

    D̂ = Σ n(n−1) / (N(N−1) q) is unbiased; its variance is the U-statistic's
    4/N·(Σ p³/q² − D²) + 2/N²·(Σ p²/q² − D²), each sum estimated without bias, and at
    least 2(|S| − 1)/N², the spread a perfect device has."""
    if shots < 3:
        return math.inf
    n2, n3 = shots * (shots - 1), shots * (shots - 1) * (shots - 2)
    d = m3 = m2 = 0.0
    for key, n in counts.items():
        q = ideal.get(key, 0.0) / total
        if q <= 0 or n < 2:
            continue
        d += n * (n - 1) / (n2 * q)
        m2 += n * (n - 1) / (n2 * q * q)
        m3 += n * (n - 1) * (n - 2) / (n3 * q * q)
    variance = 4 / shots * max(0.0, m3 - d * d) + 2 / (shots * shots) * max(0.0, m2 - d * d)
    floor = 2 * max(sum(1 for v in ideal.values() if v > 0) - 1, 0) / n2
    return d + z * math.sqrt(max(variance, floor))


def shot_noise_ceiling(
    ideal: Mapping[str, float], shots: int, resamples: int = 200, seed: int = BOOTSTRAP_SEED
) -> tuple[float, float]:
    """Mean and sd of the Hellinger fidelity a perfect device scores at this shot count.

    Finite shots spread the counts around the ideal, so even p = q measures F̂ < 1 (about
    0.93 for 1,024 equally likely outcomes at 4,096 shots). Drawn with a fixed seed, so the
    same ideal and shots always give the same bytes."""
    import numpy as np

    keys = [k for k, v in ideal.items() if v > 0]
    q = np.array([ideal[k] for k in keys], dtype=float)
    q /= q.sum()
    rng = np.random.default_rng(seed)
    roots = np.sqrt(q / shots)
    if len(q) <= 4 * shots:
        draws = rng.multinomial(shots, q, size=resamples)
        fids = (np.sqrt(draws) @ roots) ** 2
    else:  # wider than the shots: draw outcomes, not a full count vector per resample
        cumulative = np.cumsum(q)
        fids = np.empty(resamples)
        for r in range(resamples):
            picks = np.searchsorted(cumulative, rng.random(shots) * cumulative[-1])
            index, n = np.unique(np.minimum(picks, len(q) - 1), return_counts=True)
            fids[r] = float(np.sqrt(n) @ roots[index]) ** 2
    return float(fids.mean()), float(fids.std(ddof=1))


def expectation_from_counts(counts: Mapping[str, int], pauli_z_string: str) -> float:
    """⟨P⟩ for a Pauli string of Z and I (qiskit order: leftmost acts on the highest bit)."""
    label = pauli_z_string.upper()
    if set(label) - {"Z", "I"}:
        raise ValueError(f"only Z and I can be read from counts (got {pauli_z_string!r})")
    mask = [i for i, ch in enumerate(reversed(label)) if ch == "Z"]
    total = 0
    signed = 0
    for key, n in counts.items():
        bits = key.replace(" ", "")
        if len(bits) != len(label):
            raise ValueError(f"bitstring {key!r} does not match observable {pauli_z_string!r}")
        ones = sum(bits[-1 - i] == "1" for i in mask)
        signed += n if ones % 2 == 0 else -n
        total += n
    if total == 0:
        raise ValueError("no shots to take an expectation value from")
    return signed / total


def expectation_stderr(expectation: float, shots: int) -> float:
    """Standard error of a ±1-valued observable's mean: √((1 − ⟨P⟩²) / shots)."""
    if shots <= 0:
        return math.inf
    return math.sqrt(max(0.0, 1.0 - expectation * expectation) / shots)


def heavy_outputs(ideal: Mapping[str, float], width: int) -> set[str]:
    """Outputs whose ideal probability is above the median over all 2^width outputs."""
    n_all = 2**width
    values = sorted(ideal.values())
    zeros = n_all - len(values)

    def nth(i: int) -> float:
        return 0.0 if i < zeros else values[i - zeros]

    mid = n_all // 2
    median = nth(mid) if n_all % 2 else (nth(mid - 1) + nth(mid)) / 2
    return {k for k, v in ideal.items() if v > median}


def cut_value(bitstring: str, edges: Sequence[Edge]) -> float:
    """Weight of the edges cut by a partition; node i is bit i (rightmost is node 0)."""
    bits = bitstring.replace(" ", "")
    total = 0.0
    for edge in edges:
        i, j = int(edge[0]), int(edge[1])
        weight = float(edge[2]) if len(edge) > 2 else 1.0
        if bits[-1 - i] != bits[-1 - j]:
            total += weight
    return total


def max_cut(edges: Sequence[Edge], num_nodes: int) -> float:
    """The best cut by exhaustive search (vectorised; meant for at most ~20 nodes)."""
    import numpy as np

    if num_nodes <= 1 or not edges:
        return 0.0
    # node num_nodes-1 stays on side 0: every cut and its mirror image count once
    assignments = np.arange(2 ** (num_nodes - 1), dtype=np.int64)
    totals = np.zeros(assignments.shape, dtype=np.float64)
    for edge in edges:
        i, j = int(edge[0]), int(edge[1])
        weight = float(edge[2]) if len(edge) > 2 else 1.0
        totals += weight * (((assignments >> i) ^ (assignments >> j)) & 1)
    return float(totals.max())
