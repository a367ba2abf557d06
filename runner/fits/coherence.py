"""T1, T2 (Hahn echo) and T2* (Ramsey) from a delay sweep on one pinned qubit.

Models: T1 and echo decays A·e^(−t/T) + B of P(1); Ramsey fringes
A·e^(−t/T)·cos(2πf·t + φ) + B. The fitted time is compared with the device's reported T1
or T2 for the same physical qubit (Aer's noise models a single T2, so echo and Ramsey both
recover it on fake devices).
"""

from __future__ import annotations

import math
from typing import Any

from runner.fits.curves import binomial_sigma, curve, fit_curve, quality
from runner.fits.data import EntryData, probability
from runner.fits.result import EntryResult, Param, Reported, Series

VERSION = 1


def _decay(t: Any, a: float, tau: float, b: float) -> Any:
    import numpy as np

    return a * np.exp(-t / tau) + b


def _fringe(t: Any, a: float, tau: float, f: float, phi: float, b: float) -> Any:
    import numpy as np

    return a * np.exp(-t / tau) * np.cos(2 * np.pi * f * t + phi) + b


def _points(data: EntryData) -> tuple[list[float], list[float], list[float]]:
    """(delay µs, P(1), its standard error), sorted by delay."""
    rows = []
    for c in data.circuits:
        hits, total = probability(c["counts"], 0)
        rows.append((float(c["params"]["delay_us"]), hits / total, binomial_sigma(hits, total)))
    rows.sort()
    return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]


def _reported(
    data: EntryData, name: str, key: str, measured: Param, label: str
) -> tuple[Reported, ...]:
    if not data.layout:
        return ()
    value = data.qubit_calibration(data.layout[0]).get(key)
    if value is None:
        return ()
    return (Reported(name, data.layout[:1], measured, float(value), f"{data.device} {label}"),)


def _time_constant(data: EntryData, analysis: str, metric: str, reported_key: str,
                   reported_label: str) -> EntryResult:  # fmt: skip
    x, y, s = _points(data)
    span = (min(x), max(x))
    a0 = y[0] - y[-1]
    tau0 = max(span[1] / 3, 1e-3)
    bounds = ([-1.5, 1e-3, -0.5], [1.5, 1e6, 1.5])
    fit = fit_curve(_decay, x, y, s, (a0, tau0, y[-1]), bounds)
    tau = fit.param(1, metric, "µs", f"fitted decay time of P(1), {analysis} model", True)
    amplitude = fit.param(0, "amplitude")
    params = (amplitude, tau, fit.param(2, "offset"))
    fx, fy = curve(_decay, fit, span[0], span[1])
    label = f"qubit {data.layout[0]}" if data.layout else data.entry
    return EntryResult(
        analysis=analysis, version=VERSION, entry=data.entry, layout=data.layout,
        metrics=(tau,), parameters=params, quality=quality(fit, tau, span, amplitude),
        series=(Series(label, tuple(x), tuple(y), tuple(s), fx, fy),),
        x_label="delay (µs)", y_label="P(1)",
        reported=_reported(data, metric, reported_key, tau, reported_label),
    )  # fmt: skip


def t1(data: EntryData) -> EntryResult:
    """T1 from |1⟩ left to decay: P(1) = A·e^(−t/T1) + B."""
    return _time_constant(data, "t1", "t1_us", "t1_us", "reported T1")


def t2_echo(data: EntryData) -> EntryResult:
    """T2 from the Hahn echo: P(1) = A·e^(−t/T2) + B (A < 0: it rises towards ½)."""
    return _time_constant(data, "t2_echo", "t2_echo_us", "t2_us", "reported T2")


def t2_ramsey(data: EntryData) -> EntryResult:
    """T2* and the frequency offset from Ramsey fringes with a virtual detuning."""
    x, y, s = _points(data)
    span = (min(x), max(x))
    detuning = float(data.circuits[0]["params"].get("detuning_mhz", 0.0))
    f0 = detuning if detuning > 0 else 1 / max(span[1], 1e-3)
    p0 = (0.5, max(span[1] / 3, 1e-3), f0, 0.0, 0.5)
    bounds = ([0.0, 1e-3, 0.0, -math.pi, -0.5], [1.5, 1e6, 20 * f0 + 1, math.pi, 1.5])
    fit = fit_curve(_fringe, x, y, s, p0, bounds)
    tau = fit.param(1, "t2_ramsey_us", "µs", "fitted decay time of the Ramsey fringes (T2*)", True)
    freq = fit.param(2, "fringe_mhz", "MHz", "fitted fringe frequency")
    offset = Param("frequency_offset_mhz", None, unit="MHz",
                   description="fringe frequency minus the virtual detuning: the qubit's "
                   "frequency offset from its drive")  # fmt: skip
    if freq.value is not None:
        offset = Param(offset.name, freq.value - detuning,
                       None if freq.low is None else freq.low - detuning,
                       None if freq.high is None else freq.high - detuning,
                       freq.stderr, "MHz", offset.description)  # fmt: skip
    params = (fit.param(0, "amplitude"), tau, freq, fit.param(3, "phase", "rad"),
              fit.param(4, "offset"))  # fmt: skip
    fx, fy = curve(_fringe, fit, span[0], span[1])
    label = f"qubit {data.layout[0]}" if data.layout else data.entry
    return EntryResult(
        analysis="t2_ramsey", version=VERSION, entry=data.entry, layout=data.layout,
        metrics=(tau, offset), parameters=params, quality=quality(fit, tau, span, params[0]),
        series=(Series(label, tuple(x), tuple(y), tuple(s), fx, fy),),
        x_label="delay (µs)", y_label="P(1)",
        reported=_reported(data, "t2_ramsey_us", "t2_us", tau, "reported T2"),
    )  # fmt: skip
