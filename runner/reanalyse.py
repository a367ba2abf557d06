"""Re-analysis without re-running: bring an older analysis.json up to the current analysis.

analysis.json records the `analysis_version` that produced it. When the analysis changes
(a fix to a metric, an interval, the way counts are joined), the version is bumped, and
`qrun report` / `qrun apply` re-derive every older analysis from what the store already
holds: the run's request.json (circuits, registers, ideals), each job's raw result of
record and the calibration read at collection (kept from the stored analysis). No call to
the service is made. A run whose raw results are not in this store keeps its stored
analysis, with a note saying why it was not re-derived.
"""

from __future__ import annotations

import json
from typing import Any

from runner.lock import Lock, RunRecord
from runner.stores import keys

ANALYSIS_VERSION = 6
"""1: registers joined alphabetically, bootstrap interval, no ideal for dynamic circuits.
2: declaration-order registers, exact dynamic ideals, coverage-measured interval, ceiling.
3: circuits with delays (T1/T2 sweeps) get their ideal: a delay is the noiseless identity.
4: intervals for the total variation distance and the estimator's mean |⟨O⟩ − ideal|; each
   observable's measured − ideal with its interval instead of a deviation in std errors.
5: to a one-outcome ideal, fidelity and total variation get the exact binomial interval
   they equal; a fidelity's lower bound stays below √(mass on the support)'s, so counts
   matching the ideal exactly no longer read F = 1 [1, 1]; no per-circuit heavy-output
   pass/fail (the quantum-volume verdict is over circuits).
6: the calibration says when it was taken ("taken": "collection", as of the job's start on
   the device, or "submission"); older analyses had the submission's."""


def analysis_version(doc: dict[str, Any]) -> int:
    """The version of analysis that produced a stored analysis.json (1 before versioning)."""
    return int(doc.get("analysis_version", 1))


def current(store: Any, lock: Lock, run: RunRecord, doc: dict[str, Any]) -> dict[str, Any]:
    """doc if it is current; else re-derived from the stored raw results, or doc with a
    `reanalysis_note` when those are not in this store."""
    if analysis_version(doc) >= ANALYSIS_VERSION:
        return doc
    found = _stored_inputs(store, lock, run, analysis_version(doc))
    if isinstance(found, str):
        return {**doc, "reanalysis_note": found}
    from runner.collect import analyse_run

    request_doc, results = found
    stored = doc.get("calibration") or {}  # read from the service at collection: kept
    calibration = stored if "taken" in stored else None
    timing = doc.get("device_timing")  # the service's, kept like the calibration
    return analyse_run(
        _with_dynamic_ideals(request_doc), run.jobs, results, run, calibration, timing
    )


def _stored_inputs(
    store: Any, lock: Lock, run: RunRecord, version: int
) -> tuple[dict[str, Any], dict[str, tuple[str, str]]] | str:
    """(request document, circuit id -> (job id, raw result)), or why they are missing."""
    objects = {o.key: o for o in run.objects}
    request_key = keys.run_prefix(lock.name, run.id) + "request.json"
    wanted = [request_key] + [keys.job_result_key(lock.name, run.id, j.id) for j in run.jobs]
    missing = [k for k in wanted if k not in objects or store.exists("results", k) is None]
    if missing:
        return (
            f"analysed by an older qrun (analysis version {version}) and not "
            f"re-derived: {len(missing)} stored object(s) of the run are not in this result "
            "store (e.g. " + missing[0].rsplit("/", 1)[-1] + ")"
        )
    request_doc = json.loads(store.get("results", request_key, objects[request_key].sha256))
    results: dict[str, tuple[str, str]] = {}
    for job in run.jobs:
        key = keys.job_result_key(lock.name, run.id, job.id)
        text = store.get("results", key, objects[key].sha256).decode()
        for cid in job.circuits:
            results[cid] = (job.id, text)
    return request_doc, results


def _with_dynamic_ideals(request_doc: dict[str, Any]) -> dict[str, Any]:
    """Older requests have no ideal for dynamic circuits or circuits with delays (the
    simulator refused them, leaving no note): compute it from their QASM."""
    from runner.analysis.ideal import NOT_UNITARY, sampler_ideal
    from runner.templates.qasm import load_qasm

    if request_doc.get("primitive") != "sampler":
        return request_doc
    circuits = []
    for circuit in request_doc["circuits"]:
        if circuit.get("ideal") is None and circuit.get("ideal_note") in (None, NOT_UNITARY):
            ideal, note = sampler_ideal(load_qasm(circuit["qasm"]))
            circuit = {**circuit, "ideal": ideal, "ideal_note": note}
        circuits.append(circuit)
    return {**request_doc, "circuits": circuits}
