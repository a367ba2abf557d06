"""Collecting a run: poll its unfinished jobs; when all are done, store the raw results,
analyse them against the circuits that ran, and record everything in the lock.

Stateless: everything needed comes from the lock, the store and the service."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from runner.backends.base import JobOutcome, JobStatus, run_tags
from runner.circuits import request_document
from runner.claim import cancel_surplus
from runner.errors import StoreError
from runner.execute import REQUEST_FILE, RunContext, build_request, canonical_json
from runner.lock import JobRecord, Lock, ObjectRecord, RunRecord, RunStatus
from runner.output import plural
from runner.schedule import format_time, parse_time
from runner.spec.model import Spec
from runner.stores import keys
from runner.stores.base import sha256_hex


def _run_status(jobs: tuple[JobRecord, ...]) -> RunStatus:
    statuses = {j.status for j in jobs}
    for status in ("failed", "cancelled", "running", "queued"):
        if status in statuses:
            return RunStatus(status)
    return RunStatus.COMPLETED


def settle_surplus(ctx: RunContext, lock: Lock, run: RunRecord) -> tuple[Lock, RunRecord]:
    """A run keeps one set of jobs: stray pending jobs with its tags and surplus jobs still
    pending (from two runners' records merged) are cancelled, and recorded as surplus."""
    backend = ctx.backend_for(run.target)
    known = [j.id for j in run.jobs + run.surplus]
    found = tuple(
        JobRecord(job_id, run.jobs[part].circuits, JobStatus.QUEUED.value)
        for job_id, part in backend.strays(run_tags(lock.name, run.id), known)
        if part < len(run.jobs)  # a part the run has: its circuits are covered already
    )
    open_surplus = tuple(j for j in run.surplus + found if not JobStatus(j.status).final)
    if not open_surplus:
        return lock, run
    settled = {j.id: j for j in cancel_surplus(ctx, backend, open_surplus, run.jobs)}
    surplus = tuple(settled.get(j.id, j) for j in run.surplus) + tuple(settled[j.id] for j in found)
    run = run.with_(surplus=surplus, updated=format_time(ctx.now))
    lock = lock.upsert(run)
    ctx.persist(lock)
    return lock, run


def collect(ctx: RunContext, lock: Lock, run: RunRecord, spec: Spec | None = None) -> Lock:
    """Poll the run's unfinished jobs; when all are done, store, analyse and record."""
    lock, run = settle_surplus(ctx, lock, run)
    open_ids = [j.id for j in run.jobs if not JobStatus(j.status).final]
    ctx.phase("collect", f"collect {plural(len(run.jobs), 'job')}")
    first = run.jobs[0].id if run.jobs else None  # the job whose calibration describes the run
    backend = ctx.backend_for(run.target)
    outcomes = {o.job_id: o for o in backend.collect(open_ids, first)} if open_ids else {}
    jobs = tuple(_merge_job(j, outcomes.get(j.id)) for j in run.jobs)
    for polled in outcomes.values():
        if polled.queue_length is not None and run.backend:
            ctx.queue_lengths[run.backend] = polled.queue_length
    status = _run_status(jobs)
    stamp = format_time(ctx.current_time())
    if status in (RunStatus.QUEUED, RunStatus.RUNNING):
        updated = run.with_(jobs=jobs, status=status)
        if updated != run:
            lock = lock.upsert(updated.with_(updated=stamp))
            ctx.persist(lock)
        return lock
    if status in (RunStatus.FAILED, RunStatus.CANCELLED):
        unfinished = [j.id for j in jobs if not JobStatus(j.status).final]
        if unfinished:  # the run cannot complete: its other jobs would spend QPU time for nothing
            ctx.backend_for(run.target).cancel(unfinished)
            note = f"cancelled by qrun: another job of the run {status.value}"
            jobs = tuple(
                replace(j, status=JobStatus.CANCELLED.value, reason=note)
                if j.id in unfinished
                else j
                for j in jobs
            )
        reasons = "; ".join(
            f"job {j.id}: {j.reason or j.status}" for j in jobs if j.status == status.value
        )
        lock = lock.upsert(
            run.with_(jobs=jobs, status=status, error=reasons, updated=stamp, finished=stamp)
        )
        ctx.persist(lock)
        ctx.messages.append(f"{run.id}: {status.value}: {reasons}")
        return lock
    missing = [j.id for j in jobs if j.id not in outcomes]
    if missing:  # finished in an earlier pass whose results were not stored yet
        outcomes.update({o.job_id: o for o in backend.collect(missing, first)})
    objects = list(run.objects)
    found = _request_for(ctx, lock, run, spec, objects)
    if found is None:
        return _unanalysable(ctx, lock, run, jobs, stamp)
    request_doc, objects = found
    results: dict[str, tuple[str, str]] = {}
    for job in jobs:
        outcome = outcomes.get(job.id)
        if outcome is None or outcome.result_json is None:
            raise StoreError(f"job {job.id} completed but returned no result; run apply again")
        data = outcome.result_json.encode()
        objects.append(ctx.put("results", keys.job_result_key(lock.name, run.id, job.id), data))
        for cid in job.circuits:
            results[cid] = (job.id, outcome.result_json)
    ctx.phase("analyse", f"analyse {plural(len(request_doc['circuits']), 'circuit')}")
    calibration = ran_under(request_doc, outcomes.get(jobs[0].id))
    if calibration and calibration.get("note"):
        ctx.messages.append(
            f"{lock.name}: run {run.id}: {calibration['note']}; kept the submission's"
        )
    timing = device_timing([outcomes.get(j.id) for j in jobs])
    analysis = analyse_run(request_doc, jobs, results, run, calibration, timing)
    analysis_obj = ctx.put(
        "results", keys.analysis_key(lock.name, run.id), canonical_json(analysis)
    )
    objects.append(analysis_obj)
    if not run.target.startswith("local:") and run.backend:  # ran on hardware: keep the circuits
        for circuit in request_doc["circuits"]:
            key = keys.validated_circuit_key(run.backend, lock.name, circuit["circuit_id"])
            ctx.put("circuits", key, circuit["qasm"].encode())
    qpu = sum(j.quantum_seconds or 0.0 for j in jobs)
    from runner.fits.lead import KEPT, lead_metric

    # the lock keeps the run's lead number (a fitted value, else the headline) for `qrun
    # status` and the pull-request comment
    headline = lead_metric(analysis["entries"], analysis["circuits"]) or analysis["headline"] or {}
    finished = _finished_at([outcomes.get(j.id) for j in jobs], run.created, stamp)
    lock = lock.upsert(
        run.with_(
            jobs=jobs,
            status=RunStatus.COMPLETED,
            updated=stamp,
            finished=finished,
            qpu_seconds=round(qpu, 3),
            objects=tuple(_dedupe(objects)),
            headline={k: v for k, v in headline.items() if k in KEPT and v is not None},
        )
    )
    ctx.persist(lock)
    return lock


def _finished_at(outcomes: list[JobOutcome | None], created: str, default: str) -> str:
    """When the run ended: the latest job end the backend reported (the service's finished
    timestamp, the local simulator's measured end), else (or when that is unreadable or
    before the run was created) the collection time."""
    ends = [o.finished_at for o in outcomes if o is not None and o.finished_at]
    try:
        latest = max(parse_time(e) for e in ends) if ends else None
        start = parse_time(created)
    except (TypeError, ValueError):
        return default
    return format_time(latest) if latest is not None and latest >= start else default


TIMING = {"created": min, "running": min, "finished": max}  # over the run's jobs


def device_timing(outcomes: list[JobOutcome | None]) -> dict[str, str] | None:
    """When the run's jobs were created, started and finished on the service, by its own
    timestamps (earliest created and start, latest finish): how long the run queued and ran
    on the device, apart from qrun's transpiling and polling (for a batch, "ran" spans its
    first start to its last finish). None when the service reported none."""
    timing = {}
    for key, pick in TIMING.items():
        stamps = []
        for value in (o.timestamps.get(key) for o in outcomes if o and o.timestamps.get(key)):
            try:
                stamps.append(format_time(parse_time(str(value))))
            except ValueError:
                continue  # an unreadable stamp is left out, not guessed
        if stamps:
            timing[key] = pick(stamps)
    return timing or None


def ran_under(request_doc: dict[str, Any], first: JobOutcome | None) -> dict[str, Any] | None:
    """The calibration the run ran under: the device's properties as of its first job's start
    (a run of several jobs is described by its first), for the qubits and couplers of the
    submission's. None when the backend reads none (local: the submission's is the fake
    device's fixed one). When the read failed, the submission's, saying so."""
    from runner.backends.local import device_calibration

    if first is None or (first.properties is None and first.properties_error is None):
        return None
    submitted = request_doc.get("calibration") or {}
    if first.properties is None:
        note = f"reading the calibration as the job ran failed: {first.properties_error}"
        return {**submitted, "taken": "submission", "note": note} if submitted else {}
    transpiled = (request_doc.get("transpiled") or {}).values()
    used = sorted({q for t in transpiled for q in t.get("physical_qubits") or ()})
    edges = [tuple(g["qubits"]) for g in submitted.get("two_qubit_gates") or ()]
    if not submitted:  # no submission record of the couplers: the device's among used qubits
        edges = [tuple(g.qubits) for g in first.properties.gates
                 if len(g.qubits) == 2 and set(g.qubits) <= set(used)]  # fmt: skip
    calibration = device_calibration(first.properties, used, edges)
    as_of = format_time(parse_time(first.started_at)) if first.started_at else None
    return {**calibration, "taken": "collection", "as_of": as_of}


def _dedupe(objects: list[ObjectRecord]) -> list[ObjectRecord]:
    seen: dict[tuple[str, str], ObjectRecord] = {}
    for o in objects:
        seen[(o.bucket, o.key)] = o
    return list(seen.values())


def _merge_job(job: JobRecord, outcome: JobOutcome | None) -> JobRecord:
    if outcome is None:
        return job
    return JobRecord(
        job.id, job.circuits, outcome.status.value, outcome.reason, outcome.quantum_seconds
    )


def analyse_run(
    request_doc: dict[str, Any],
    jobs: tuple[JobRecord, ...],
    results: dict[str, tuple[str, str]],
    run: RunRecord,
    calibration: dict[str, Any] | None = None,
    timing: dict[str, str] | None = None,
) -> dict[str, Any]:
    """analysis.json: per-circuit analyses and the run's headline metric, beside
    `calibration` (the one the run ran under; by default the submission's) and the service's
    `timing` of its jobs (device_timing)."""
    from runner.analysis.metrics import analyse_estimator, analyse_sampler, headline
    from runner.analysis.record import decode_record

    primitive = request_doc["primitive"]
    registers = {c["circuit_id"]: request_registers(c) for c in request_doc["circuits"]}
    decoded: dict[str, list[Any]] = {}
    pubs: dict[str, Any] = {}
    for job in jobs:
        job_id, text = results[job.circuits[0]]
        decoded[job_id] = decode_record(text, primitive, [registers[c] for c in job.circuits])
        for index, cid in enumerate(job.circuits):
            pubs[cid] = decoded[job_id][index]
    analyses = []
    for circuit in request_doc["circuits"]:
        pub = pubs[circuit["circuit_id"]]
        if primitive == "sampler":
            analyses.append(
                analyse_sampler(
                    circuit["circuit_id"],
                    circuit["template"],
                    circuit["params"],
                    pub.counts,
                    pub.shots or request_doc["shots"],
                    circuit.get("ideal"),
                    circuit.get("ideal_note"),
                )
            )
        else:
            analyses.append(
                analyse_estimator(
                    circuit["circuit_id"],
                    circuit["template"],
                    circuit["params"],
                    circuit["observables"],
                    pub.evs,
                    pub.stds,
                    circuit.get("ideal_evs"),
                    request_doc["shots"],
                    circuit.get("ideal_note"),
                )
            )
    from runner.fits.registry import analyse_entries, entry_groups
    from runner.reanalyse import ANALYSIS_VERSION

    top = headline(analyses)
    records = [a.to_json() for a in analyses]
    groups = entry_groups(request_doc["circuits"])
    if calibration is None:
        submitted = request_doc.get("calibration") or {}
        calibration = {**submitted, "taken": "submission"} if submitted else {}
    return {
        "version": 1,
        "analysis_version": ANALYSIS_VERSION,
        "name": request_doc["name"],
        "run_id": request_doc["run_id"],
        "target": request_doc["target"],
        "backend": request_doc.get("backend"),
        "primitive": primitive,
        "shots": request_doc["shots"],
        "trigger": run.trigger,
        "created": run.created,
        "headline": top.to_json() if top else None,
        "circuits": records,
        "transpiled": request_doc.get("transpiled", {}),
        "calibration": calibration,
        "device_timing": timing,
        "entry_groups": groups,
        "entries": analyse_entries(records, groups, calibration) if primitive == "sampler" else [],
    }


def request_registers(circuit: dict[str, Any]) -> list[tuple[str, int]]:
    """A request circuit's classical registers in declaration order (older requests: from
    its QASM)."""
    from runner.analysis.record import qasm_registers

    if "registers" in circuit:
        return [(str(name), int(size)) for name, size in circuit["registers"]]
    return qasm_registers(circuit["qasm"])


def _request_for(
    ctx: RunContext, lock: Lock, run: RunRecord, spec: Spec | None, objects: list[ObjectRecord]
) -> tuple[dict[str, Any], list[ObjectRecord]] | None:
    """The run's request document: from the store, or rebuilt from the unchanged spec.

    A local store does not travel between CI runners; when the spec still has the run's
    hash its circuits and ideals are rebuilt deterministically (calibration is then absent).
    None when the store failed before the request was recorded and it cannot be rebuilt.
    """
    ref = next((o for o in objects if o.key.endswith("/" + REQUEST_FILE)), None)
    key = keys.run_prefix(lock.name, run.id) + REQUEST_FILE
    if ref is None and ctx.store.exists("results", key) is not None:
        data = ctx.store.get("results", key)  # the upload landed but was never acknowledged
        ref = ObjectRecord("results", key, sha256_hex(data), len(data))
        objects = [ref, *objects]
    if ref is not None and ctx.store.exists("results", ref.key) is not None:
        return json.loads(ctx.store.get("results", ref.key, ref.sha256)), objects
    if spec is None or spec.run_hash != run.run_hash:
        return None  # neither stored here nor rebuildable: the run cannot be analysed
    doc = request_document(spec, run.id, build_request(spec, run.id).circuits)
    doc["backend"] = run.backend
    doc["transpiled"] = dict(sorted(run.transpiled.items()))
    doc["calibration"] = {}
    ctx.messages.append(
        f"{lock.name}: request of run {run.id} not in the store; rebuilt from the spec"
    )
    rebuilt = ctx.put("results", key, canonical_json(doc))
    return doc, [rebuilt, *(o for o in objects if o.key != key)]


def _unanalysable(
    ctx: RunContext, lock: Lock, run: RunRecord, jobs: tuple[JobRecord, ...], stamp: str
) -> Lock:
    """Finished jobs with no request document cannot be analysed: fail the run, say why."""
    reason = (
        f"its {REQUEST_FILE} is not in this result store (never stored, or stored in a local "
        "store on another machine) and the spec has changed since, so the results cannot be "
        "analysed; the next `qrun apply` runs the current spec (configure COS to keep results "
        "between CI runners)"
    )
    qpu = round(sum(j.quantum_seconds or 0.0 for j in jobs), 3)
    failed = run.with_(jobs=jobs, status=RunStatus.FAILED, error=reason, qpu_seconds=qpu)
    lock = lock.upsert(failed.with_(updated=stamp, finished=stamp))
    ctx.persist(lock)
    ctx.messages.append(f"{run.id}: failed: {reason}")
    return lock
