"""A run's claim while it is submitted: its lease, renewed by a pushed update, and what
happens to the run's jobs when a submission fails (recorded, kept for the next apply, or
cancelled when the service rejected the run)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from runner.backends.base import Backend, JobRef, JobStatus, RunRequest
from runner.errors import (
    CredentialsError,
    GitError,
    QrunError,
    Rejected,
    ServiceUnavailable,
    SubmissionDeferred,
    SubmitUncertain,
)
from runner.lock import DEFERRED_MARK, JobRecord, Lock, RunRecord, RunStatus, split_surplus
from runner.output import plural
from runner.schedule import format_time

if TYPE_CHECKING:
    from runner.execute import RunContext

# After a job creation left unanswered and not (yet) found by tag, the claim is held this
# long: the service may still be creating the job, or not list it yet, and an apply started
# at once would submit it a second time. Past it, the next apply adopts or submits.
SETTLE = timedelta(minutes=5)


class ClaimLost(QrunError):
    """Another runner claimed the same run first; this one backs off (not a failure)."""


@dataclass
class Claim:
    """This runner's claim of a run while it submits: the record as last persisted, and its
    lease, renewed by a pushed update (the push fails if another runner took it over)."""

    ctx: RunContext
    lock: Lock
    run: RunRecord
    renewed: float = field(default_factory=time.monotonic)

    def update(self, **changes: Any) -> None:
        self.run = self.run.with_(**changes)
        self.lock = self.lock.upsert(self.run)
        self.ctx.persist(self.lock)

    def renew(self) -> None:
        started = time.monotonic()  # the new lease runs from here, not from the push's end
        self.update(lease_expires=self.ctx.lease_from_now())
        if not self.ctx.claim(self.lock, self.run):
            raise ClaimLost(f"{self.lock.name}: run {self.run.id} was taken over by another runner")
        self.renewed = started

    def keep(self) -> None:
        """Before each job creation: renewed once half the lease has passed since the last
        renewal (a long transpile, a slow part of a batch), so no runner takes it over while
        this one still posts. A lease of 0 (take any claim over at once) is never renewed."""
        lease = self.ctx.lease.total_seconds()
        if lease and time.monotonic() - self.renewed >= lease / 2:
            self.renew()


def queued(job: JobRef) -> JobRecord:
    return JobRecord(job.job_id, job.circuit_ids, JobStatus.QUEUED.value)


def after_failure(
    ctx: RunContext, claim: Claim, backend: Backend, request: RunRequest, exc: QrunError
) -> None:
    """A failed submission may have created jobs (earlier parts of a batch, a lost answer):
    those the backend knows it created and every job tagged with the run are recorded. A run
    the service rejected (or qrun refused before any job existed) fails, its jobs cancelled;
    after anything else the claim stays, its lease released (held a while after a creation
    left unanswered), and the next apply adopts the jobs found. A claim another runner won
    is its own: nothing of ours is written over it (it adopts our jobs by tag)."""
    created = tuple(queued(j) for j in exc.created)
    if isinstance(exc, ClaimLost):
        if created:
            ids = ", ".join(j.id for j in created)
            ctx.messages.append(
                f"{request.name}: run {request.run_id}: job(s) {ids} created before the claim "
                "was taken over; its new owner adopts them by tag"
            )
        return
    stamp, why = format_time(ctx.current_time()), ""
    try:
        found: tuple[JobRef, ...] | None = backend.find_jobs(request)
    except QrunError as lookup:
        found, why = None, f"; looking its jobs up by tag failed too ({lookup})"
    known = {j.id for j in claim.run.surplus}  # cancelled when found earlier in this apply
    listed = tuple(queued(j) for j in found or ())
    # deduplicated; the listing first (oldest first: the first job for circuits keeps them)
    fresh = {j.id: j for j in listed + created if j.id not in known}
    kept, extra = split_surplus(tuple(fresh.values()))
    passing = (ServiceUnavailable, CredentialsError, SubmissionDeferred, GitError)
    failed = found is not None and not isinstance(exc, passing)
    failed = failed and (isinstance(exc, Rejected) or not (kept or extra))
    if failed and (kept or extra):
        note = "another part of the run was rejected, so the run failed"
        try:
            cancelled = cancel_jobs(ctx, backend, kept + extra, lambda job: note)
        except QrunError as cancel:
            failed, why = False, f"; cancelling the job(s) found failed ({cancel})"
        else:
            kept, extra = cancelled[: len(kept)], cancelled[len(kept) :]
    if failed:
        ids = ", ".join(j.id for j in kept + extra)
        error = f"{exc}; cancelled job(s) {ids} already created for it" if ids else str(exc)
        claim.update(status=RunStatus.FAILED, error=error, updated=stamp, finished=stamp,
                     lease_expires=None, jobs=kept, surplus=claim.run.surplus + extra)  # fmt: skip
        return
    release = stamp
    if isinstance(exc, SubmitUncertain) and not (kept or extra):
        release = format_time(ctx.current_time() + SETTLE)
    changes: dict[str, Any] = {
        "jobs": kept or claim.run.jobs,
        "surplus": claim.run.surplus + extra,
        "updated": stamp,
        "lease_expires": release,
    }
    if isinstance(exc, SubmissionDeferred):  # the claim stays, marked: the next apply submits
        ctx.deferred = str(exc)
        changes["error"] = DEFERRED_MARK + str(exc)
    claim.update(**changes)
    if kept or why:
        ctx.messages.append(
            f"{request.name}: run {request.run_id}: {plural(len(kept), 'job')} already created "
            f"recorded{why}; the claim stays: the next apply adopts its jobs and submits what "
            "is missing"
        )


def cancel_surplus(
    ctx: RunContext, backend: Backend, extra: tuple[JobRecord, ...], kept: tuple[JobRecord, ...]
) -> tuple[JobRecord, ...]:
    """Cancel surplus jobs; those already final keep the status the service reports."""

    def note(job: JobRecord) -> str:
        twin = next((k.id for k in kept if set(job.circuits) & set(k.circuits)), "another job")
        return f"surplus: its circuits are covered by job {twin}"

    records = cancel_jobs(ctx, backend, extra, note)
    ctx.messages.append(
        f"surplus job(s) {', '.join(j.id for j in extra)} found for circuits already covered: "
        "cancelled and recorded"
    )
    return records


def cancel_jobs(
    ctx: RunContext,
    backend: Backend,
    jobs: tuple[JobRecord, ...],
    note: Callable[[JobRecord], str],
) -> tuple[JobRecord, ...]:
    """Cancel pending jobs, each recorded with its note: cancelled, or as it ended when it
    had finished before qrun could cancel it."""
    pending = [j.id for j in jobs if not JobStatus(j.status).final]
    finished = set(backend.cancel(pending)) if pending else set()
    ended = {o.job_id: o for o in backend.collect(sorted(finished))} if finished else {}
    records = []
    for job in jobs:
        if job.id in ended:
            outcome = ended[job.id]
            records.append(JobRecord(job.id, job.circuits, outcome.status.value,
                                     f"{note(job)}; it had finished before qrun could cancel it",
                                     outcome.quantum_seconds))  # fmt: skip
        elif job.id in pending:
            records.append(JobRecord(job.id, job.circuits, JobStatus.CANCELLED.value,
                                     f"{note(job)}; cancelled by qrun"))  # fmt: skip
        else:
            records.append(job)
    return tuple(records)
