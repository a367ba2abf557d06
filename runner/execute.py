"""Submitting a run: claim it, adopt jobs already tagged with its id or submit, record the
job ids. The lock is persisted after every change, so a crash at any point loses nothing
a later runner cannot recover. (Collection is in runner/collect.py.)
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from runner.backends.base import Backend, JobRef, RunRequest, Submission
from runner.circuits import build_jobs, request_document
from runner.claim import Claim, ClaimLost, after_failure, cancel_surplus, queued
from runner.errors import BackendError, CredentialsError, QrunError, SubmissionDeferred
from runner.lock import JobRecord, Lock, ObjectRecord, RunRecord, RunStatus, split_surplus
from runner.output import plural
from runner.progress import silent
from runner.schedule import format_time
from runner.spec.model import Spec
from runner.stores import keys
from runner.stores.base import ResultStore

REQUEST_FILE = "request.json"


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
    lease: timedelta = timedelta(minutes=30)  # how long a claim is ours without renewal
    started: float = field(default_factory=time.monotonic)
    uploaded: int = 0
    skipped: int = 0
    messages: list[str] = field(default_factory=list)
    queue_lengths: dict[str, int] = field(default_factory=dict)
    deferred: str | None = None  # set once a cap refused a submission: defer the rest
    phase: Callable[[str, str], None] = silent  # the run enters a phase (runner.progress)
    pinned: bool = False  # QRUN_NOW fixed the clock: times do not advance

    def current_time(self) -> datetime:
        """The clock as work goes on: the invocation's start plus the time spent since, so
        a local run's created and finished times measure it; a pinned clock (QRUN_NOW, for
        reproducible runs) stands still and every time reads as the pinned one."""
        if self.pinned:
            return self.now
        return self.now + timedelta(seconds=time.monotonic() - self.started)

    def lease_from_now(self) -> str:
        """The end of a lease taken now: the invocation's clock plus the time spent since."""
        return format_time(
            self.now + timedelta(seconds=time.monotonic() - self.started) + self.lease
        )

    def put(self, bucket: Any, key: str, data: bytes) -> ObjectRecord:
        outcome = self.store.put(bucket, key, data)
        if outcome.uploaded:
            self.uploaded += 1
        else:
            self.skipped += 1
        o = outcome.obj
        return ObjectRecord(o.bucket, o.key, o.sha256, o.size)


def build_request(
    spec: Spec,
    run_id: str,
    progress: Callable[[str, str], None] = silent,
    renew: Callable[[], None] = lambda: None,
) -> RunRequest:
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
        progress=progress,
        renew=renew,
    )


def check_store(ctx: RunContext, name: str, run_id: str) -> None:
    """Fail before claiming when the store cannot take the results (a missing bucket, say):
    jobs whose results cannot be stored waste QPU time. StoreError names the bucket."""
    ctx.store.exists("results", keys.run_prefix(name, run_id) + REQUEST_FILE)
    ctx.store.exists("experiments", keys.definition_key(name))


def submit(
    ctx: RunContext,
    spec: Spec,
    lock: Lock,
    run_id: str,
    trigger: str,
    estimate: tuple[float, float] | None = None,
) -> Lock:
    """Claim the run, adopt jobs already tagged with its id or submit, and record the jobs.
    `estimate` (QPU seconds, money) is the plan's, kept in the record for the dashboard
    until collection brings the billed seconds."""
    check_store(ctx, spec.name, run_id)
    if ctx.deferred and not spec.target.startswith("local:"):
        raise SubmissionDeferred(ctx.deferred)  # nothing claimed: planned again next apply
    stamp = format_time(ctx.current_time())
    lease = ctx.lease_from_now()
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
        lease_expires=lease,
        shots=spec.execution.shots,
        estimate_qpu_seconds=estimate[0] if estimate else None,
        estimate_cost=estimate[1] if estimate else None,
    )
    if existing is None:  # a bad token or target must not leave a claim behind
        ctx.backend_for(spec.target).check(spec.min_qubits or spec.width)
    else:  # taking over a stale claim: our name in the record makes the claim push a real CAS
        run = existing.with_(claimed_by=ctx.runner_id, updated=stamp, lease_expires=lease,
                             error=None)  # a deferral mark is ours to clear now  # fmt: skip
    claim = Claim(ctx, lock, run)
    claim.update()
    if not ctx.claim(claim.lock, run):  # another runner won the push: it submits, we back off
        raise ClaimLost(f"{spec.name}: run {run_id} was claimed by another runner; backing off")
    ctx.phase("build", f"build {plural(len(spec.circuits), 'circuit')}")
    request = build_request(spec, run_id, ctx.phase, claim.keep)
    backend = ctx.backend_for(spec.target)
    adopted, surplus = _found_jobs(ctx, backend, backend.find_jobs(request))
    if surplus:
        claim.update(surplus=surplus)
    covered = {cid for j in adopted for cid in j.circuit_ids}
    complete = bool(adopted) and covered >= {c.circuit_id for c in request.circuits}
    if adopted:
        ctx.messages.append(
            f"{spec.name}: adopted {len(adopted)} job(s) already submitted for {run_id}"
            + ("" if complete else "; submitting the missing part(s)")
        )
    if complete:  # nothing to post: the transpile info and calibration are derived again
        submission = _describe(ctx, spec, backend, replace(request, renew=_no_second_job), adopted)
    else:  # nothing found, or part of a batch: the backend submits only what is missing
        claim.renew()
        try:
            submission = backend.submit(request)
        except QrunError as exc:  # jobs may exist (a push failing between parts, too): recorded
            after_failure(ctx, claim, backend, request, exc)
            raise
    run = claim.run
    ctx.phase("store", "store circuits and ideals")
    doc = request_document(spec, run_id, request.circuits)
    doc["backend"] = submission.backend
    doc["transpiled"] = {cid: info.__dict__ for cid, info in sorted(submission.transpiled.items())}
    doc["calibration"] = dict(submission.calibration)
    key = keys.run_prefix(spec.name, run_id) + REQUEST_FILE
    stored = (None if submission.transpiled else _kept_request(ctx, key)) or doc
    run = run.with_(
        status=RunStatus.QUEUED,
        lease_expires=None,  # a lease only matters while claimed (and finished records stay stable)
        backend=stored["backend"],
        updated=stamp,
        error=None,  # a deferral of an earlier apply is over
        jobs=tuple(queued(j) for j in submission.jobs),
        transpiled={cid: _plain_info(info) for cid, info in sorted(stored["transpiled"].items())},
    )
    lock = claim.lock.upsert(run)
    ctx.persist(lock)  # job ids are recorded before anything else can fail
    request_obj = ctx.put("results", key, canonical_json(stored))
    _store_definition(ctx, spec, doc, run.spec_commit)
    lock = lock.upsert(run.with_(objects=(request_obj,)))
    ctx.persist(lock)
    ctx.checkpoint(
        f"qrun: submitted {spec.name} run {run_id} "
        f"(jobs {', '.join(j.job_id for j in submission.jobs)})"
    )
    return lock


def _no_second_job() -> None:
    raise BackendError("every part of the run was found on the service: no job is created")


def _describe(
    ctx: RunContext, spec: Spec, backend: Backend, request: RunRequest, adopted: tuple[JobRef, ...]
) -> Submission:
    """The adopted jobs with their device, transpile info and calibration derived again
    (transpilation is seeded: the same circuits); the backend creates no job for a run it
    found whole (a creation would meet _no_second_job). When that fails (a retired device),
    the jobs are recorded with what is known and request.json is not overwritten."""
    try:
        return replace(backend.submit(request), jobs=adopted)
    except BackendError as exc:
        if isinstance(exc, CredentialsError):
            raise
        ctx.messages.append(
            f"{spec.name}: could not derive the transpile info of the adopted jobs again "
            f"({exc}); recorded them, keeping the request.json stored when they were submitted"
        )
    device = next((j.backend for j in adopted if j.backend), None)
    return Submission(backend=device or spec.target, jobs=adopted, transpiled={})


def _kept_request(ctx: RunContext, key: str) -> dict[str, Any] | None:
    """A stored request.json with transpile info: kept rather than overwritten with less."""
    data = ctx.store.read("results", key)
    doc = json.loads(data) if data else None
    return doc if isinstance(doc, dict) and doc.get("transpiled") else None


def _found_jobs(
    ctx: RunContext, backend: Backend, found: tuple[JobRef, ...]
) -> tuple[tuple[JobRef, ...], tuple[JobRecord, ...]]:
    """Jobs found by tag: the first for each set of circuits is adopted; any other is a
    surplus (two runners, or a lost answer followed by another try), cancelled and recorded."""
    kept, extra = split_surplus(tuple(queued(j) for j in found))
    if not extra:
        return found, ()
    return tuple(j for j in found if j.job_id in {k.id for k in kept}), cancel_surplus(
        ctx, backend, extra, kept
    )


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


def supersede(ctx: RunContext, spec: Spec, lock: Lock, run_id: str) -> Lock:
    """A stale claim made from an older revision of the spec: cancel anything it submitted
    (found by its tags) and close it, so the current revision gets a run of its own."""
    run = next(r for r in lock.runs if r.id == run_id)
    backend = ctx.backend_for(run.target)
    found = backend.find_jobs(build_request(spec, run_id))
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
