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

BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 20240917  # fixed: the same counts always give the same interval bytes

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
    noiseless device would score; drift tracking compares runs through these fields.
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

    def to_json(self) -> dict[str, Any]:
        """Plain dict, sorted keys, floats rounded."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        for key in ("value", "low", "high", "stderr", "ideal"):
            out[key] = rounded(out[key])
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


def wilson_interval(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
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


def hellinger_fidelity_interval(
    counts: Mapping[str, int],
    ideal: Mapping[str, float],
    confidence: float = 0.95,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[float, float]:
    """Confidence interval for the fidelity of counts against a fixed ideal distribution.

    Parametric bootstrap: redraw the counts from Multinomial(shots, p̂) with a fixed seed,
    then take the basic (reflected) interval [2F̂ − q_hi, 2F̂ − q_lo]. The plug-in F̂ is
    biased low (finite shots spread probability over outcomes), which the reflection
    corrects; plain percentiles or the delta method miss the true value near F = 1 and for
    wide distributions. The interval is widened to contain F̂ so it never excludes the
    number printed next to it.
    """
    import numpy as np

    keys = sorted(k for k, v in counts.items() if v > 0)
    shots = sum(counts[k] for k in keys)
    if shots == 0:
        return (0.0, 1.0)
    ideal_total = _total(ideal)
    p = np.array([counts[k] / shots for k in keys])
    q = np.array([ideal.get(k, 0.0) / ideal_total for k in keys])
    point = hellinger_fidelity(counts, ideal)
    rng = np.random.default_rng(seed)
    chunk = max(1, min(resamples, 2_000_000 // len(keys)))
    fids = []
    for start in range(0, resamples, chunk):
        draws = rng.multinomial(shots, p, size=min(chunk, resamples - start)) / shots
        fids.append(np.sqrt(draws * q).sum(axis=1) ** 2)
    alpha = (1 - confidence) / 2
    q_lo, q_hi = np.quantile(np.concatenate(fids), [alpha, 1 - alpha])
    low = max(0.0, min(point, 2 * point - float(q_hi)))
    high = min(1.0, max(point, 2 * point - float(q_lo)))
    return (low, high)


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
