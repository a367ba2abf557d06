"""What the experiment page shows of run-level analyses: the fits of the latest run, the
measured-against-reported history across runs, and drift alerts on fitted values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from runner.reports.drift import Alert, drift_alerts


def entry_results(doc: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The run's entry results, re-derived from stored counts if made by another version."""
    if not doc or doc.get("primitive", "sampler") != "sampler":
        return []
    from runner.fits.registry import current_entries

    return current_entries(doc)


def analysed_circuits(entries: Sequence[Mapping[str, Any]], doc: Mapping[str, Any]) -> set[str]:
    """Circuit ids covered by a run-level analysis (their per-point fidelity sweep is noise)."""
    groups = doc.get("entry_groups") or {}
    done = {str(e["entry"]) for e in entries}
    return {cid for name, g in groups.items() if name in done for cid in g.get("circuit_ids", ())}


def _key(entry: str, row: Mapping[str, Any]) -> str:
    return f"{entry} {row['name']}"


def reported_history(
    runs: Sequence[tuple[str, Mapping[str, Any]]],
) -> dict[str, list[tuple[str, Mapping[str, Any]]]]:
    """(entry, quantity) -> [(run id, measured-vs-reported row)] in run order."""
    history: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
    for run_id, doc in runs:
        for result in entry_results(doc):
            for row in result.get("reported") or ():
                if row.get("measured") is not None:
                    history.setdefault(_key(str(result["entry"]), row), []).append((run_id, row))
    return history


def fitted_alerts(
    runs: Sequence[tuple[str, Mapping[str, Any]]], sigma: float, window: int
) -> list[Alert]:
    """Drift alerts on every fitted value (T1 dropping, GHZ fidelity falling), by the same
    rule as the headline (runner.reports.drift); values where lower is better never alert."""
    history: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
    for run_id, doc in runs:
        for result in entry_results(doc):
            for metric in result.get("metrics") or ():
                key = f"{result['entry']} {metric['name']}"
                history.setdefault(key, []).append((run_id, {**metric, "name": key}))
    return [a for _, points in sorted(history.items())
            for a in drift_alerts(points, None, sigma, window) if a.run_id == runs[-1][0]]  # fmt: skip
