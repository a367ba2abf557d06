"""The shape of a run-level analysis result, as stored in analysis.json (plain, rounded)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runner.analysis.stats import rounded


@dataclass(frozen=True)
class Param:
    """A fitted or derived quantity with its 95% interval."""

    name: str
    value: float | None
    low: float | None = None
    high: float | None = None
    stderr: float | None = None
    unit: str = ""
    description: str = ""
    higher_is_better: bool | None = None  # drift alerts fire only on a drop of such a value

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "value": _r(self.value), "low": _r(self.low),
                "high": _r(self.high), "stderr": _r(self.stderr), "unit": self.unit,
                "description": self.description,
                "higher_is_better": self.higher_is_better}  # fmt: skip


@dataclass(frozen=True)
class Quality:
    """Goodness of fit: reduced χ² over dof degrees of freedom and a verdict with its reason."""

    good: bool
    reason: str
    reduced_chi2: float | None = None
    dof: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"good": self.good, "reason": self.reason,
                "reduced_chi2": _r(self.reduced_chi2), "dof": self.dof}  # fmt: skip


@dataclass(frozen=True)
class Reported:
    """A measured value beside the device's reported calibration for the same qubit(s)."""

    name: str
    qubits: tuple[int, ...]
    measured: Param
    reported: float
    source: str  # e.g. "device T1", "predicted from reported sx/cz errors"

    def to_json(self) -> dict[str, Any]:
        m = self.measured
        diff = None if m.value is None else m.value - self.reported
        outside = None
        if m.low is not None and m.high is not None:
            outside = not (m.low <= self.reported <= m.high)
        return {"name": self.name, "qubits": list(self.qubits), "measured": _r(m.value),
                "low": _r(m.low), "high": _r(m.high), "reported": _r(self.reported),
                "difference": _r(diff), "outside_interval": outside, "unit": m.unit,
                "source": self.source}  # fmt: skip


@dataclass(frozen=True)
class Series:
    """One curve of the figure: measured points (x, y ± yerr) and the fitted curve."""

    label: str
    x: tuple[float, ...]
    y: tuple[float, ...]
    yerr: tuple[float, ...]
    fit_x: tuple[float, ...] = ()
    fit_y: tuple[float, ...] = ()
    curve_label: str = "fit"  # what the line is: the fit, or a reference such as 2/3
    bounds: tuple[tuple[float, float], ...] = ()  # each point's 95% interval, when it is not
    # y ± 1.96 yerr (a rate near 0 has an asymmetric interval): the figure's bars then show it

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "label": self.label, "x": _rs(self.x), "y": _rs(self.y), "yerr": _rs(self.yerr),
            "fit_x": _rs(self.fit_x), "fit_y": _rs(self.fit_y), "curve_label": self.curve_label,
        }  # fmt: skip
        if self.bounds:
            doc["bounds"] = [_rs(b) for b in self.bounds]
        return doc


@dataclass(frozen=True)
class EntryResult:
    """Everything a run-level analysis concluded about one entry."""

    analysis: str
    version: int
    entry: str
    layout: tuple[int, ...] | None
    metrics: tuple[Param, ...]  # the headline quantities (t1_us, epc, ...)
    parameters: tuple[Param, ...]  # every fitted parameter
    quality: Quality
    series: tuple[Series, ...]
    x_label: str
    y_label: str
    reported: tuple[Reported, ...] = ()
    notes: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "analysis": self.analysis,
            "version": self.version,
            "entry": self.entry,
            "layout": list(self.layout) if self.layout is not None else None,
            "metrics": [m.to_json() for m in self.metrics],
            "parameters": [p.to_json() for p in self.parameters],
            "quality": self.quality.to_json(),
            "series": [s.to_json() for s in self.series],
            "x_label": self.x_label,
            "y_label": self.y_label,
            "reported": [r.to_json() for r in self.reported],
            "notes": list(self.notes),
        }


def _r(value: float | None) -> float | None:
    return None if value is None else rounded(float(value))


def _rs(values: tuple[float, ...]) -> list[float | None]:
    return [_r(v) for v in values]
