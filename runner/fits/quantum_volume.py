"""The quantum-volume verdict per width (Cross et al., PRA 100, 032328, 2019).

Over the seeds of a width: mean heavy-output probability h̄ and σ = √(h̄(1 − h̄)/n_c); QV
2^n is achieved when h̄ − 2σ > 2/3. The protocol asks for at least 100 circuits per width
before a claim, so fewer gives "no" with the reason.
"""

from __future__ import annotations

import math

from runner.fits.data import EntryData
from runner.fits.result import EntryResult, Param, Quality, Series

VERSION = 2  # 2: the verdict per width in the notes
THRESHOLD = 2 / 3
MIN_CIRCUITS = 100


def quantum_volume(data: EntryData) -> EntryResult:
    """mean_hop and qv_achieved per width, with the two-sigma lower bound."""
    by_width: dict[int, list[float]] = {}
    for c in data.circuits:
        hop = (c.get("metrics") or {}).get("heavy_output_probability") or {}
        if hop.get("value") is not None:
            by_width.setdefault(int(c["params"]["width"]), []).append(float(hop["value"]))
    metrics, params, notes = [], [], []
    xs, ys, errs = [], [], []
    for width, hops in sorted(by_width.items()):
        count = len(hops)
        mean = sum(hops) / count
        sigma = math.sqrt(mean * (1 - mean) / count)
        bound = mean - 2 * sigma
        achieved = bound > THRESHOLD and count >= MIN_CIRCUITS
        metrics.append(Param(f"mean_hop[width={width}]", mean, bound, min(1.0, mean + 2 * sigma), sigma,
                             "", f"mean heavy-output probability over {count} circuit(s); "
                             "interval ±2σ"))  # fmt: skip
        params.append(Param(f"qv_achieved[width={width}]", float(achieved), unit="",
                            description=f"QV {2**width} achieved: {'yes' if achieved else 'no'}"))  # fmt: skip
        why = (f"two-sigma lower bound {bound:.3f} {'>' if bound > THRESHOLD else '≤'} 2/3"
               + (f"; {count} circuit(s), the protocol needs at least {MIN_CIRCUITS} per width "
                  "for a claim" if count < MIN_CIRCUITS else f" over {count} circuits"))  # fmt: skip
        notes.append(f"QV {2**width} achieved: {'yes' if achieved else 'no'} "
                     f"(width {width}: mean HOP {mean:.3f}, {why})")  # fmt: skip
        xs.append(float(width))
        ys.append(mean)
        errs.append(sigma)
    few = sorted(w for w, hops in by_width.items() if len(hops) < MIN_CIRCUITS)
    good = bool(by_width) and not few
    reason = "at least 100 circuits per width" if good else (
        f"fewer than {MIN_CIRCUITS} circuits at width(s) {few}: no claim"
        if by_width else "no heavy-output data")  # fmt: skip
    line_x = (xs[0], xs[-1]) if xs else ()
    line_y = (THRESHOLD, THRESHOLD) if xs else ()
    return EntryResult(
        analysis="quantum_volume", version=VERSION, entry=data.entry, layout=data.layout,
        metrics=tuple(metrics), parameters=tuple(params), quality=Quality(good, reason),
        series=(Series("mean HOP", tuple(xs), tuple(ys), tuple(errs), line_x, line_y,
                       "2/3 threshold"),),
        x_label="width (qubits)", y_label="heavy-output probability", notes=tuple(notes),
    )  # fmt: skip
