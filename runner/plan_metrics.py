"""The plan comment's metric table, in DVC's shape (metric | last run | preview | Δ): for a
changed spec, what its last run measured beside what the preview predicts for the new
revision, both against the noiseless ideal.

The preview predicts the Hellinger fidelity to the ideal: on a target with a fake twin, the
fidelity of the twin's noisy simulation (PREVIEW_SHOTS shots, with the same bootstrap
interval the reports use); on the noiseless simulator, 1 (what it reproduces up to shot
noise). Circuits without a preview (too wide, or no offline model of the target) get none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runner.preview import PREVIEW_SHOTS, CircuitPreview

METRIC = "hellinger_fidelity"


@dataclass(frozen=True)
class Estimate:
    value: float
    low: float | None = None
    high: float | None = None

    def text(self) -> str:
        if self.low is None or self.high is None:
            return f"{self.value:.3f}"
        return f"{self.value:.3f} [{self.low:.3f}, {self.high:.3f}]"


@dataclass(frozen=True)
class MetricRow:
    circuit_id: str
    last: Estimate
    preview: Estimate | None
    note: str  # how the preview was made

    @property
    def delta(self) -> float | None:
        return None if self.preview is None else self.preview.value - self.last.value


def predicted_fidelity(item: CircuitPreview, noiseless: bool) -> tuple[Estimate | None, str]:
    """The preview's prediction of the circuit's fidelity to its ideal, and how it was made."""
    from runner.analysis.stats import hellinger_fidelity, hellinger_fidelity_interval

    if item.ideal is None:
        return None, "not simulated: plan --preview"
    if item.noisy:
        counts = {k: round(p * PREVIEW_SHOTS) for k, p in item.noisy.items()}
        counts = {k: n for k, n in counts.items() if n > 0}
        low, high = hellinger_fidelity_interval(counts, item.ideal)
        return Estimate(hellinger_fidelity(counts, item.ideal), low, high), "noisy twin"
    if noiseless:
        return Estimate(1.0), "noiseless simulator"
    return None, "no noise model"


def metric_rows(
    last_analysis: Mapping[str, Any], previews: Sequence[CircuitPreview], noiseless: bool
) -> list[MetricRow]:
    """One row per circuit the last run measured a fidelity for, in the analysis's order."""
    by_id = {p.circuit_id: p for p in previews}
    rows = []
    for circuit in last_analysis.get("circuits", []):
        fid = circuit.get("fidelity")
        if not fid or fid.get("value") is None:
            continue
        last = Estimate(float(fid["value"]), fid.get("low"), fid.get("high"))
        item = by_id.get(circuit["circuit_id"])
        if item is None:
            rows.append(MetricRow(circuit["circuit_id"], last, None, "circuit removed"))
            continue
        predicted, note = predicted_fidelity(item, noiseless)
        rows.append(MetricRow(circuit["circuit_id"], last, predicted, note))
    return rows
