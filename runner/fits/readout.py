"""Readout assignment errors per pinned qubit from prepared basis states.

For each qubit, P(read 1 | prepared 0) and P(read 0 | prepared 1) are pooled over every
prepared state; the readout error is their mean, the quantity IBM reports per qubit. Its
interval combines the two rates' exact (Clopper-Pearson) intervals by MOVER (Newcombe; Zou
& Donner 2008): readout errors sit near 0, where a normal-approximation interval dips below
0 and Wilson's covers the truth in only ~90% of runs.
"""

from __future__ import annotations

import math

from runner.analysis.stats import clopper_pearson_interval
from runner.fits.curves import binomial_sigma
from runner.fits.data import EntryData, probability
from runner.fits.result import EntryResult, Param, Quality, Reported, Series

VERSION = 2  # 2: MOVER interval from exact binomial ones (was a normal approximation)


def readout(data: EntryData) -> EntryResult:
    """readout_error per qubit with its 95% interval, beside the device's reported value."""
    width = len(str(data.circuits[0]["params"]["state"]))
    metrics, params, reported, missing = [], [], [], []
    xs, ys, errs, ref_x, ref_y = [], [], [], [], []
    bounds: list[tuple[float, float]] = []
    for q in range(width):
        flips = {"0": [0, 0], "1": [0, 0]}  # prepared bit -> [wrong reads, shots]
        for c in data.circuits:
            prepared = str(c["params"]["state"])[width - 1 - q]
            wrong, total = probability(c["counts"], q, "0" if prepared == "1" else "1")
            flips[prepared][0] += wrong
            flips[prepared][1] += total
        physical = data.layout[q] if data.layout else q
        if not flips["0"][1] or not flips["1"][1]:
            missing.append(q)
            continue
        e0, e1 = (flips[b][0] / flips[b][1] for b in "01")
        s0, s1 = (binomial_sigma(*flips[b]) for b in "01")
        value, se = (e0 + e1) / 2, math.hypot(s0, s1) / 2
        low, high = mean_rate_interval(flips["0"], flips["1"])
        desc = f"mean of P(1|0) = {e0:.4f} and P(0|1) = {e1:.4f} on physical qubit {physical}"
        metric = Param(f"readout_error[q{physical}]", value, low, high, se, "", desc, False)
        metrics.append(metric)
        params += [Param(f"p1_given_0[q{physical}]", e0, stderr=s0),
                   Param(f"p0_given_1[q{physical}]", e1, stderr=s1)]  # fmt: skip
        xs.append(float(physical))
        ys.append(value)
        errs.append(se)
        bounds.append((low, high))
        row_value = data.qubit_calibration(physical).get("readout_error")
        if row_value is not None and data.layout:
            reported.append(Reported(metric.name, (physical,), metric, float(row_value),
                                     f"{data.device} reported readout error"))  # fmt: skip
            ref_x.append(float(physical))
            ref_y.append(float(row_value))
    good = not missing
    reason = ("every qubit prepared in 0 and 1" if good else
              f"qubit(s) {missing} never prepared in both 0 and 1: sweep every basis state")  # fmt: skip
    return EntryResult(
        analysis="readout", version=VERSION, entry=data.entry, layout=data.layout,
        metrics=tuple(metrics), parameters=tuple(params), quality=Quality(good, reason),
        series=(Series("measured", tuple(xs), tuple(ys), tuple(errs), tuple(ref_x),
                       tuple(ref_y), "reported", tuple(bounds)),),
        x_label="physical qubit", y_label="readout error", reported=tuple(reported),
    )  # fmt: skip


def mean_rate_interval(first: list[int], second: list[int]) -> tuple[float, float]:
    """95% interval of the mean of two independent binomial rates ([hits, shots] each):
    each rate's exact interval, combined by MOVER, so the bounds stay within [0, 1]."""
    rates = [hits / shots for hits, shots in (first, second)]
    bounds = [clopper_pearson_interval(hits, shots) for hits, shots in (first, second)]
    below = math.hypot(*(r - lo for r, (lo, _) in zip(rates, bounds, strict=True))) / 2
    above = math.hypot(*(hi - r for r, (_, hi) in zip(rates, bounds, strict=True))) / 2
    mean = sum(rates) / 2
    return max(0.0, mean - below), min(1.0, mean + above)
