"""Metric deltas between two runs of one experiment, like `dvc metrics diff`: pure data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class MetricDelta:
    circuit_id: str
    metric: str
    old: float | None
    new: float | None
    higher_is_better: bool | None
    sigma: float | None = None  # combined standard error of the two values, when known

    @property
    def change(self) -> float | None:
        if self.old is None or self.new is None:
            return None
        return self.new - self.old

    @property
    def verdict(self) -> str:
        """better / worse / same / new / gone, judged by the metric's direction."""
        if self.old is None:
            return "new"
        if self.new is None:
            return "gone"
        change = self.change or 0.0
        if self.sigma and abs(change) < 2 * self.sigma:
            return "within noise"
        if abs(change) < 1e-12 or self.higher_is_better is None:
            return "same" if abs(change) < 1e-12 else "changed"
        return "better" if (change > 0) == self.higher_is_better else "worse"


def _metrics(doc: Mapping[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    if doc.get("headline"):
        found[("(run)", doc["headline"]["name"])] = doc["headline"]
    for circuit in doc.get("circuits", []):
        cid = circuit["circuit_id"]
        if circuit.get("fidelity"):
            found[(cid, "hellinger_fidelity")] = circuit["fidelity"]
        for name, metric in sorted(circuit.get("metrics", {}).items()):
            found[(cid, name)] = metric
    return found


def metric_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[MetricDelta]:
    """Every metric of either run's analysis.json, paired by (circuit, metric name)."""
    a, b = _metrics(old), _metrics(new)
    rows = []
    for key in sorted(set(a) | set(b), key=lambda k: (k[0] != "(run)", k)):
        ma, mb = a.get(key), b.get(key)
        direction = (mb or ma or {}).get("higher_is_better")
        sigma = None
        if ma and mb and (_error(ma) or _error(mb)):
            sigma = (_error(ma) ** 2 + _error(mb) ** 2) ** 0.5
        old_value, new_value = (ma or {}).get("value"), (mb or {}).get("value")
        rows.append(MetricDelta(key[0], key[1], old_value, new_value, direction, sigma))
    return rows


def _error(metric: Mapping[str, Any]) -> float:
    """A metric's standard error: stderr, else half its 95% interval / 1.96, else 0."""
    if metric.get("stderr"):
        return float(metric["stderr"])
    low, high = metric.get("low"), metric.get("high")
    return (high - low) / 2 / 1.96 if low is not None and high is not None else 0.0
