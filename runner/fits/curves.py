"""Weighted least-squares fits with scipy.optimize.curve_fit, and what every fit reports.

Points carry binomial standard errors, so the fit uses absolute sigma: the covariance is in
the data's units and a reduced χ² near 1 says the model explains the data to within shot
noise. Intervals are ±1.96 standard errors of the fitted parameter (normal approximation,
fine for the well-sampled decays here). A fit is flagged bad, with the reason, when it does
not converge, has no degrees of freedom left, its χ² is implausible, or the parameter of
interest is not resolved.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from runner.fits.result import Param, Quality

Z95 = 1.96
CHI2_MAX = 3.0  # reduced χ² above this: the model does not describe the data
RELATIVE_ERROR_MAX = 0.5  # stderr / value above this: the parameter is not resolved
CURVE_POINTS = 150


@dataclass(frozen=True)
class Fit:
    """The outcome of one curve fit (values None when it failed)."""

    values: tuple[float, ...] | None
    stderrs: tuple[float, ...] | None
    reduced_chi2: float | None
    dof: int
    error: str | None = None

    def param(
        self, index: int, name: str, unit: str = "", description: str = "",
        higher_is_better: bool | None = None,
    ) -> Param:  # fmt: skip
        """Parameter `index` with its 95% interval."""
        if self.values is None or self.stderrs is None:
            return Param(name, None, unit=unit, description=description)
        value, se = self.values[index], self.stderrs[index]
        return Param(name, value, value - Z95 * se, value + Z95 * se, se, unit, description,
                     higher_is_better)  # fmt: skip


def binomial_sigma(hits: int, shots: int) -> float:
    """Standard error of a proportion, with the (hits+1)/(shots+2) estimate so a point at
    exactly 0 or 1 still carries weight and not infinite confidence."""
    p = (hits + 1) / (shots + 2)
    return math.sqrt(p * (1 - p) / shots)


def fit_curve(
    model: Callable[..., object],
    x: Sequence[float],
    y: Sequence[float],
    sigma: Sequence[float],
    p0: Sequence[float],
    bounds: tuple[Sequence[float], Sequence[float]],
) -> Fit:
    """curve_fit with absolute sigma; a failure is a Fit with values None and the reason."""
    import numpy as np
    from scipy.optimize import OptimizeWarning, curve_fit

    xs, ys, ss = (np.asarray(v, dtype=float) for v in (x, y, sigma))
    dof = len(xs) - len(p0)
    if dof < 0:
        return Fit(None, None, None, dof, f"{len(xs)} points for {len(p0)} parameters")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", OptimizeWarning)
            values, cov = curve_fit(
                model, xs, ys, p0=list(p0), sigma=ss, absolute_sigma=True,
                bounds=bounds, maxfev=20_000,
            )  # fmt: skip
    except (RuntimeError, ValueError, OptimizeWarning) as exc:
        return Fit(None, None, None, dof, f"fit did not converge ({exc})")
    residuals = (ys - model(xs, *values)) / ss
    chi2 = float(np.sum(residuals**2))
    stderrs = np.sqrt(np.clip(np.diag(cov), 0, None))
    if not np.all(np.isfinite(stderrs)):
        return Fit(None, None, None, dof, "the fit's covariance is not finite")
    return Fit(
        tuple(float(v) for v in values),
        tuple(float(s) for s in stderrs),
        chi2 / dof if dof > 0 else None,
        dof,
    )


def quality(
    fit: Fit,
    key: Param,
    x_range: tuple[float, float] | None = None,
    amplitude: Param | None = None,
) -> Quality:
    """Good or bad, and why: convergence, χ², whether `key` is resolved (for a time constant:
    inside a sensible multiple of the swept range), and whether the decay's `amplitude` is
    there at all (flat data leave a time constant undetermined, whatever its stderr says)."""
    if fit.values is None:
        return Quality(False, fit.error or "fit failed", None, fit.dof)
    chi2 = fit.reduced_chi2
    if fit.dof == 0 or chi2 is None:
        return Quality(False, "no degrees of freedom left: add sweep points", None, fit.dof)
    if chi2 > CHI2_MAX:
        return Quality(False, f"reduced χ² {chi2:.2f} > {CHI2_MAX:g}: the model does not "
                       "describe the data", chi2, fit.dof)  # fmt: skip
    if amplitude is not None and not _resolved(amplitude):
        return Quality(False, "no decay resolved: the amplitude is within 3 standard errors "
                       "of 0", chi2, fit.dof)  # fmt: skip
    if key.value is None or key.stderr is None or key.value == 0:
        return Quality(False, f"{key.name} not determined", chi2, fit.dof)
    relative = key.stderr / abs(key.value)
    if relative > RELATIVE_ERROR_MAX:
        return Quality(False, f"{key.name} not resolved (relative error {relative:.0%})",
                       chi2, fit.dof)  # fmt: skip
    if x_range is not None and not (x_range[1] / 20 <= key.value <= 5 * x_range[1]):
        return Quality(False, f"{key.name} = {key.value:.3g} is outside what the swept range "
                       f"(up to {x_range[1]:g}) can measure", chi2, fit.dof)  # fmt: skip
    return Quality(True, f"reduced χ² {chi2:.2f} over {fit.dof} dof", chi2, fit.dof)


def _resolved(param: Param) -> bool:
    if param.value is None or param.stderr is None:
        return False
    return abs(param.value) > 3 * param.stderr


def curve(
    model: Callable[..., object], fit: Fit, lo: float, hi: float
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The fitted curve sampled on CURVE_POINTS points of [lo, hi], for the figure."""
    import numpy as np

    if fit.values is None:
        return (), ()
    xs = np.linspace(lo, hi, CURVE_POINTS)
    ys = np.asarray(model(xs, *fit.values), dtype=float)
    return tuple(float(v) for v in xs), tuple(float(v) for v in ys)
