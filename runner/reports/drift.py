"""Drift alerts: has the latest run of an experiment got worse than its history says it should?

Pure: a chronological list of (run id, headline Metric json) in, a list of alerts out.

The rule, for metrics where higher is better (others never alert):

* threshold: the latest value is below the spec's `analysis.fidelity_threshold` times the
  headline's shot-noise ceiling (what a perfect device scores at the run's shot count; 1
  when the headline has none), so a wide circuit at its ceiling does not alert.
* drift: with at least `MIN_PREVIOUS` earlier runs among the last `window` runs, let m and
  s be the mean and sample standard deviation of the earlier values, and u the latest run's
  own uncertainty (its stderr, else half its 95% interval / 1.96). The latest value v drifts
  when m − v > sigma · √(u² + s²). u covers shot noise of the new run; s covers the
  run-to-run scatter the device has shown so far (which already contains the earlier runs'
  shot noise), so a stable but noisy history does not alert on an ordinary low draw.
  When √(u² + s²) is 0 nothing can be concluded and no drift alert is raised.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

MIN_PREVIOUS = 2
Z95 = 1.96


@dataclass(frozen=True)
class Alert:
    """One reason to look at an experiment: which run, which metric, how far off."""

    run_id: str
    metric: str
    kind: Literal["threshold", "drift"]
    value: float
    reference: float  # the threshold, or the mean of the previous runs
    sigmas: float | None  # how many combined standard deviations below the mean (drift only)
    message: str


def uncertainty(metric: Mapping[str, Any]) -> float:
    """A metric's standard error: its stderr, else half its 95% interval / 1.96, else 0."""
    stderr = metric.get("stderr")
    if isinstance(stderr, int | float) and math.isfinite(stderr) and stderr > 0:
        return float(stderr)
    low, high = metric.get("low"), metric.get("high")
    if isinstance(low, int | float) and isinstance(high, int | float) and high > low:
        return (high - low) / (2 * Z95)
    return 0.0


def _value(metric: Mapping[str, Any] | None) -> float | None:
    value = None if metric is None else metric.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def drift_alerts(
    history: Sequence[tuple[str, Mapping[str, Any] | None]],
    threshold: float | None,
    sigma: float,
    window: int,
) -> list[Alert]:
    """Alerts for the latest entry of a chronological history (see the module docstring)."""
    usable = [(run_id, m) for run_id, m in history if m is not None and _value(m) is not None]
    if not usable:
        return []
    run_id, latest = usable[-1]
    if latest.get("higher_is_better") is not True:
        return []
    name = str(latest.get("name", "metric"))
    value = _value(latest)
    assert value is not None  # filtered above
    alerts: list[Alert] = []
    ceiling = _value({"value": latest.get("ceiling")}) or 1.0
    if threshold is not None and value < threshold * ceiling:
        limit = threshold * ceiling
        why = "" if ceiling == 1.0 else f" (× shot-noise ceiling {ceiling:.4g})"
        alerts.append(
            Alert(run_id, name, "threshold", value, limit, None,
                  f"{name} {value:.4g} is below the threshold {threshold:.4g}{why}")
        )  # fmt: skip
    previous = [
        v
        for _, m in usable[-max(1, window) : -1]
        if m.get("name") == name and (v := _value(m)) is not None
    ]
    if len(previous) < MIN_PREVIOUS:
        return alerts
    mean = sum(previous) / len(previous)
    spread = math.sqrt(sum((v - mean) ** 2 for v in previous) / (len(previous) - 1))
    combined = math.hypot(uncertainty(latest), spread)
    if combined > 0 and mean - value > sigma * combined:
        sigmas = (mean - value) / combined
        alerts.append(
            Alert(run_id, name, "drift", value, mean, sigmas,
                  f"{name} {value:.4g} is {sigmas:.1f}σ below the mean {mean:.4g} of the "
                  f"previous {len(previous)} run(s) (σ = {combined:.2g}, alert at {sigma:g}σ)")
        )  # fmt: skip
    return alerts
