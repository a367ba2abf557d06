"""The two I/O steps of a run: submit (claim, adopt or submit, record) and collect
(poll, store results, analyse, record). Each persists the lock after every change it
makes, so a crash at any point loses nothing that a later runner cannot recover.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from runner.backends.base import Backend, JobOutcome, JobStatus, RunRequest, Submission
from runner.circuits import build_jobs, request_document
from runner.errors import (
    BackendError,
    CredentialsError,
    QrunError,
    ServiceUnavailable,
    StoreError,
)
from runner.lock import JobRecord, Lock, ObjectRecord, RunRecord, RunStatus
from runner.schedule import format_time
from runner.spec.model import Spec
from runner.stores import keys
from runner.stores.base import ResultStore, sha256_hex

REQUEST_FILE = "request.json"


class ClaimLost(QrunError):
    """Another runner claimed the same run first; this one backs off (not a failure)."""


def canonical_json(doc: Any) -> bytes:
    """Stable bytes for stored JSON documents."""
    return (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


@dataclass
class RunContext:
    """What the steps share during one invocation."""

    store: ResultStore
    backend_for: Callable[[str], Backend]
    now: datetime
    persist: Callable[[Lock], None]
    commit_of: Callable[[Path], str | None] = lambda path: None
    runner_id: str = "qrun"
    claim: Callable[[Lock, RunRecord], bool] = lambda lock, run: True
    checkpoint: Callable[[str], None] = lambda message: None
    uploaded: int = 0
    skipped: int = 0
    messages: list[str] = field(default_factory=list)
    queue_lengths: dict[str, int] = field(default_factory=dict)

    def put(self, bucket: Any, key: str, data: bytes) -> ObjectRecord:
        outcome = self.store.put(bucket, key, data)
        if outcome.uploaded:
            self.uploaded += 1
        else:
            self.skipped += 1
        o = outcome.obj
        return ObjectRecord(o.bucket, o.key, o.sha256, o.size)


def _request(spec: Spec, run_id: str) -> RunRequest:
    return RunRequest(
        name=spec.name,
        run_id=run_id,
        target=spec.target,
        primitive=spec.execution.primitive,
        shots=spec.execution.shots,
        optimization_level=spec.execution.optimization_level,
        seed=spec.execution.seed_transpiler,
        circuits=build_jobs(spec),
        options=spec.execution.options,
        min_qubits=spec.min_qubits or spec.width,
    )


def check_store(ctx: RunContext, name: str, run_id: str) -> None:
    """Fail before claiming when the store cannot take the results (a missing bucket, say):
    jobs whose results cannot be stored waste QPU time. StoreError names the bucket."""
    ctx.store.exists("results", keys.run_prefix(name, run_id) + REQUEST_FILE)
    ctx.store.exists("experiments", keys.definition_key(name))


def submit(ctx: RunContext, spec: Spec, lock: Lock, run_id: str, trigger: str) -> Lock:
    """Claim the run, adopt jobs already tagged with its id or submit, and record the jobs."""
    check_store(ctx, spec.name, run_id)
    stamp = format_time(ctx.now)
    existing = next((r for r in lock.runs if r.id == run_id), None)
    run = existing or RunRecord(
        id=run_id,
        run_hash=spec.run_hash,
        trigger=trigger,
        target=spec.target,
        status=RunStatus.CLAIMED,
        created=stamp,
        updated=stamp,
        spec_commit=ctx.commit_of(spec.path),
        claimed_by=ctx.runner_id,
        shots=spec.execution.shots,
    )
    if existing is None:  # a bad token or target must not leave a claim behind
        ctx.backend_for(spec.target).check(spec.min_qubits or spec.width)
    else:  # taking over a stale claim: our name in the record makes the claim push a real CAS
        run = existing.with_(claimed_by=ctx.runner_id, updated=stamp)
    lock = lock.upsert(run)
    ctx.persist(lock)
    if not ctx.claim(lock, run):  # another runner won the push: it submits, we back off
        raise ClaimLost(f"{spec.name}: run {run_id} was claimed by another runner; backing off")
    request = _request(spec, run_id)
    backend = ctx.backend_for(spec.target)
    adopted = backend.find_jobs(request)
    covered = {cid for j in adopted for cid in j.circuit_ids}
    if adopted and covered >= {c.circuit_id for c in request.circuits}:
        ctx.messages.append(
            f"{spec.name}: adopted {len(adopted)} job(s) already submitted for {run_id}"
        )
        submission = Submission(backend=run.backend or spec.target, jobs=adopted, transpiled={})
    else:  # nothing found, or part of a batch: the backend submits only what is missing
        if adopted:
            ctx.messages.append(
                f"{spec.name}: adopted {len(adopted)} job(s) already submitted for {run_id}; "
                "submitting the missing part(s)"
            )
        try:
            submission = backend.submit(request)
        except (ServiceUnavailable, CredentialsError):
            raise  # the claim stays; the next apply adopts by tag or submits
        except BackendError as exc:  # the service rejected the run: record why, unless a job exists
            if backend.find_jobs(request):
                raise
            failed = run.with_(
                status=RunStatus.FAILED, error=str(exc), updated=stamp, finished=stamp
            )
            lock = lock.upsert(failed)
            ctx.persist(lock)
            raise
    doc = request_document(spec, run_id, request.circuits)
    doc["backend"] = submission.backend
    doc["transpiled"] = {cid: info.__dict__ for cid, info in sorted(submission.transpiled.items())}
    doc["calibration"] = dict(submission.calibration)
    run = run.with_(
        status=RunStatus.QUEUED,
        backend=submission.backend,
        updated=stamp,
        jobs=tuple(
            JobRecord(j.job_id, j.circuit_ids, JobStatus.QUEUED.value) for j in submission.jobs
        ),
        transpiled={
            cid: _plain_info(info.__dict__) for cid, info in sorted(submission.transpiled.items())
        },
    )
    lock = lock.upsert(run)
    ctx.persist(lock)  # job ids are recorded before anything else can fail
    request_obj = ctx.put(
        "results", keys.run_prefix(spec.name, run_id) + REQUEST_FILE, canonical_json(doc)
    )
    _store_definition(ctx, spec, doc, run.spec_commit)
    lock = lock.upsert(run.with_(objects=(request_obj,)))
    ctx.persist(lock)
    ctx.checkpoint(
        f"qrun: submitted {spec.name} run {run_id} "
        f"(jobs {', '.join(j.job_id for j in submission.jobs)})"
    )
    return lock


def _plain_info(info: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in info.items()}


def _store_definition(ctx: RunContext, spec: Spec, doc: dict[str, Any], commit: str | None) -> None:
    """Experiments bucket: the normalized definition and its circuits (idempotent)."""
    definition = {
        k: doc[k]
        for k in (
            "name",
            "primitive",
            "shots",
            "optimization_level",
            "seed_transpiler",
        )
    }
    # every target with its own run identity, so a multi-target spec has one stable definition
    definition["targets"] = {
        t: spec.run_hashes.get(t, spec.run_hash) for t in spec.targets or (spec.target,)
    }
    definition["circuits"] = [
        {k: c[k] for k in ("circuit_id", "template", "params", "observables", "width")}
        for c in doc["circuits"]
    ]
    ctx.put("experiments", keys.definition_key(spec.name), canonical_json(definition))
    for circuit in doc["circuits"]:
        ctx.put(
            "experiments",
            keys.circuit_key(spec.name, circuit["circuit_id"]),
            circuit["qasm"].encode(),
        )
    metadata = {
        "name": spec.name,
        "tags": list(spec.tags),
        "description": spec.description,
        "spec_commit": commit,
        "latest_run": doc["run_id"],
    }
    ctx.put("experiments", keys.metadata_key(spec.name), canonical_json(metadata))
    from runner.templates.registry import get_template

    for name in sorted({e.template for e in spec.entries if e.template}):
        template = get_template(name)  # the circuits bucket's template library
        entry = {"name": template.name, "description": template.description,
                 "params_schema": template.params_schema}  # fmt: skip
        ctx.put("circuits", keys.template_key(name), canonical_json(entry))


def _run_status(jobs: tuple[JobRecord, ...]) -> RunStatus:
    statuses = {j.status for j in jobs}
    for status in ("failed", "cancelled", "running", "queued"):
        if status in statuses:
            return RunStatus(status)
    return RunStatus.COMPLETED


def collect(ctx: RunContext, lock: Lock, run: RunRecord, spec: Spec | None = None) -> Lock:
    """Poll the run's unfinished jobs; when all are done, store, analyse and record."""
    open_ids = [j.id for j in run.jobs if not JobStatus(j.status).final]
    outcomes = (
        {o.job_id: o for o in ctx.backend_for(run.target).collect(open_ids)} if open_ids else {}
    )
    jobs = tuple(_merge_job(j, outcomes.get(j.id)) for j in run.jobs)
    for polled in outcomes.values():
        if polled.queue_length is not None and run.backend:
            ctx.queue_lengths[run.backend] = polled.queue_length
    status = _run_status(jobs)
    stamp = format_time(ctx.now)
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
        outcomes.update({o.job_id: o for o in ctx.backend_for(run.target).collect(missing)})
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
    analysis = analyse_run(request_doc, jobs, results, run)
    analysis_obj = ctx.put(
        "results", keys.analysis_key(lock.name, run.id), canonical_json(analysis)
    )
    objects.append(analysis_obj)
    if not run.target.startswith("local:") and run.backend:  # ran on hardware: keep the circuits
        for circuit in request_doc["circuits"]:
            key = keys.validated_circuit_key(run.backend, lock.name, circuit["circuit_id"])
            ctx.put("circuits", key, circuit["qasm"].encode())
    qpu = sum(j.quantum_seconds or 0.0 for j in jobs)
    headline = analysis.get("headline") or {}
    lock = lock.upsert(
        run.with_(
            jobs=jobs,
            status=RunStatus.COMPLETED,
            updated=stamp,
            finished=stamp,
            qpu_seconds=round(qpu, 3),
            objects=tuple(_dedupe(objects)),
            headline={
                k: v
                for k, v in headline.items()
                if k in ("name", "value", "low", "high", "stderr") and v is not None
            },
        )
    )
    ctx.persist(lock)
    return lock


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
) -> dict[str, Any]:
    """analysis.json: per-circuit analyses and the run's headline metric."""
    from runner.analysis.metrics import analyse_estimator, analyse_sampler, headline
    from runner.analysis.results import decode_result

    primitive = request_doc["primitive"]
    decoded: dict[str, list[Any]] = {}
    pubs: dict[str, Any] = {}
    for job in jobs:
        job_id, text = results[job.circuits[0]]
        decoded[job_id] = decode_result(text, primitive)
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
    top = headline(analyses)
    return {
        "version": 1,
        "name": request_doc["name"],
        "run_id": request_doc["run_id"],
        "target": request_doc["target"],
        "backend": request_doc.get("backend"),
        "primitive": primitive,
        "shots": request_doc["shots"],
        "trigger": run.trigger,
        "created": run.created,
        "headline": top.to_json() if top else None,
        "circuits": [a.to_json() for a in analyses],
        "transpiled": request_doc.get("transpiled", {}),
        "calibration": request_doc.get("calibration", {}),
    }


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
    doc = request_document(spec, run.id, _request(spec, run.id).circuits)
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


def supersede(ctx: RunContext, spec: Spec, lock: Lock, run_id: str) -> Lock:
    """A stale claim made from an older revision of the spec: cancel anything it submitted
    (found by its tags) and close it, so the current revision gets a run of its own."""
    run = next(r for r in lock.runs if r.id == run_id)
    backend = ctx.backend_for(run.target)
    found = backend.find_jobs(_request(spec, run_id))
    if found:
        backend.cancel([j.job_id for j in found])
    note = "superseded: the spec changed before this claimed run was submitted"
    if found:
        note += f"; cancelled job(s) {', '.join(j.job_id for j in found)}"
    stamp = format_time(ctx.now)
    lock = lock.upsert(
        run.with_(status=RunStatus.CANCELLED, error=note, updated=stamp, finished=stamp)
    )
    ctx.persist(lock)
    ctx.messages.append(f"{spec.name}: run {run_id} {note}")
    return lock
