"""The explicit registry of run-level analyses, beside the template registry.

A template declares ``analysis="t1"``; the entry's circuits are then fitted by the function
listed here under that name. Each analysis has a version: a stored result of another
version is re-derived from the stored counts (see ``current_entries``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runner.fits import coherence, ghz, quantum_volume, rb, readout
from runner.fits.data import EntryData
from runner.fits.result import EntryResult


@dataclass(frozen=True)
class RunAnalysis:
    name: str
    version: int
    run: Callable[[EntryData], EntryResult]


ANALYSES: dict[str, RunAnalysis] = {
    "t1": RunAnalysis("t1", coherence.VERSION, coherence.t1),
    "t2_echo": RunAnalysis("t2_echo", coherence.VERSION, coherence.t2_echo),
    "t2_ramsey": RunAnalysis("t2_ramsey", coherence.VERSION, coherence.t2_ramsey),
    "readout": RunAnalysis("readout", readout.VERSION, readout.readout),
    "ghz_parity": RunAnalysis("ghz_parity", ghz.VERSION, ghz.ghz_parity),
    "rb": RunAnalysis("rb", rb.VERSION, rb.rb),
    "quantum_volume": RunAnalysis(
        "quantum_volume", quantum_volume.VERSION, quantum_volume.quantum_volume
    ),
}


def analysis_of(template: str | None) -> RunAnalysis | None:
    """The run-level analysis a template declares, if any."""
    from runner.templates.registry import TEMPLATES

    found = TEMPLATES.get(template or "")
    return ANALYSES.get(found.analysis or "") if found is not None else None


def analyse_entries(
    circuits: Sequence[Mapping[str, Any]],
    groups: Mapping[str, Mapping[str, Any]],
    calibration: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """One stored result per entry whose template declares an analysis.

    circuits: analysis.json's per-circuit records (params, counts, shots, metrics);
    groups: entry name -> {"template", "layout", "circuit_ids"} (analysis.json "entry_groups").
    """
    by_id = {str(c["circuit_id"]): c for c in circuits}
    out = []
    for entry, group in sorted(groups.items()):
        found = analysis_of(group.get("template"))
        members = [by_id[cid] for cid in group.get("circuit_ids", ()) if cid in by_id]
        if found is None or not members or any(not c.get("counts") for c in members):
            continue
        layout = group.get("layout")
        data = EntryData(entry, str(group["template"]),
                         tuple(layout) if layout is not None else None, members, calibration)  # fmt: skip
        out.append(found.run(data).to_json())
    return out


def entry_groups(request_circuits: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Entry name -> its template, layout and circuit ids, from the request document."""
    groups: dict[str, dict[str, Any]] = {}
    for c in request_circuits:
        entry = str(c.get("entry") or str(c["circuit_id"]).split("[", 1)[0])
        group = groups.setdefault(
            entry, {"template": c.get("template"), "layout": c.get("layout"), "circuit_ids": []}
        )
        group["circuit_ids"].append(str(c["circuit_id"]))
    return dict(sorted(groups.items()))


def current_entries(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """analysis.json's entry results, re-derived from its stored counts when any was made
    by another version of its analysis (or the run predates run-level analyses)."""
    groups = doc.get("entry_groups") or entry_groups(doc.get("circuits") or ())
    stored = list(doc.get("entries") or ())
    versions = {e["analysis"]: e.get("version") for e in stored}
    wanted = {
        a.name: a.version
        for g in groups.values()
        if (a := analysis_of(g.get("template"))) is not None
    }
    if all(versions.get(name) == version for name, version in wanted.items()):
        return stored
    return analyse_entries(doc.get("circuits") or (), groups, doc.get("calibration") or {})
