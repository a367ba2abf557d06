"""Collection on IBM Quantum in as few requests as the unmodified client allows.

A pass lists the instance's pending qrun-tagged jobs once: a job in that listing is still
waiting and costs nothing more. A job absent from it has finished. Its client object comes
from the listing of finished qrun-tagged jobs of its device and week (newest first, a page at
a time, only as far as the pass needs it) rather than from `service.job(id)`, because the object that call returns
does not keep the state it was fetched with: its `status()` would fetch the job again. So a
finished job costs one `GET /jobs/{id}` (its final state) and, when it completed, one for its
metrics (QPU seconds, timestamps); its results are fetched once the run can use them, when
every job of the run completed: one more request each, as the client offers them.

The calibration a run ran under is read for its first job only, and a pass shares its reads
among runs (see CalibrationHistory).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from runner.backends.base import JobOutcome, JobStatus
from runner.backends.ibm_client import LATER, IbmSettings, guard, service_for
from runner.errors import BackendError

TIMES = ("created", "running", "finished")  # the job timestamps the service reports
PENDING_LIMIT = 10_000  # pages of the service's largest size, not of the client's 20
FINISHED_PAGE = 200  # the service's largest page
FINISHED_PAGES = 3  # per pass and device: a job past the newest 600 is looked up by id
FINISHED_WINDOW = timedelta(days=7)  # jobs created earlier are looked up by id
STATUS = {
    "INITIALIZING": JobStatus.QUEUED,
    "QUEUED": JobStatus.QUEUED,
    "RUNNING": JobStatus.RUNNING,
    "DONE": JobStatus.COMPLETED,
    "ERROR": JobStatus.FAILED,
    "CANCELLED": JobStatus.CANCELLED,
}


@dataclass
class Pages:
    """The pages read so far of one listing of finished jobs."""

    jobs: dict[str, Any] = field(default_factory=dict)
    read: int = 0
    complete: bool = False


class JobListings:
    """This invocation's listings of the instance's qrun-tagged jobs, shared by all targets.
    Finished jobs are listed per device and from the last FINISHED_WINDOW only: decoding a
    listed job costs a configuration request per job when its device has retired."""

    def __init__(self, settings: IbmSettings) -> None:
        self.settings = settings
        self._pending: dict[str, Any] | None = None
        self._finished: dict[str | None, Pages] = {}  # device (None: any) -> pages
        self._since = datetime.now(UTC) - FINISHED_WINDOW

    def pending(self) -> dict[str, Any]:
        """The pending jobs by id, from one listing per pass."""
        if self._pending is None:
            service = service_for(self.settings)
            jobs = guard(
                self.settings,
                "list pending jobs",
                lambda: service.jobs(job_tags=["qrun"], pending=True, limit=PENDING_LIMIT),
            )
            self._pending = {job.job_id(): job for job in jobs or []}
        return self._pending

    def finished(self, job_id: str, device: str | None) -> Any:
        """The client's object of a job absent from the pending listing, which ran on
        `device` (None: unknown): from the pages of finished jobs read so far or the next
        ones, else (older, or created since the pending listing) looked up by id."""
        service = service_for(self.settings)
        pages = self._finished.setdefault(device, Pages())
        while job_id not in pages.jobs and not pages.complete and pages.read < FINISHED_PAGES:
            page = guard(
                self.settings,
                "list finished jobs",
                partial(service.jobs, job_tags=["qrun"], pending=False, backend_name=device,
                        created_after=self._since, limit=FINISHED_PAGE,
                        skip=pages.read * FINISHED_PAGE),
            )  # fmt: skip
            page = page or []
            pages.read += 1
            pages.complete = len(page) < FINISHED_PAGE
            pages.jobs.update((job.job_id(), job) for job in page)
        if job_id in pages.jobs:
            return pages.jobs[job_id]
        return guard(self.settings, f"look up job {job_id}", partial(service.job, job_id))


def listings_for(settings: IbmSettings) -> JobListings:
    """The invocation's listings (created on first use, like its service)."""
    if settings.listings is None:
        settings.listings = JobListings(settings)
    return settings.listings


@dataclass(frozen=True)
class Reading:
    """The calibration a device answered for a moment (`as_of`): `key` tells snapshots apart
    (its date as the client gives it, used as a name, never as a time: the client reads
    the service's dates as UTC whatever their offset)."""

    as_of: datetime
    key: str | None
    properties: Any


class CalibrationHistory:
    """Device properties as of given moments, in few reads. Calibrations are a step function
    of time: when the reads at t1 < t2 answer the same snapshot, none was published between,
    and every moment in [t1, t2] has it. So a pass reads at the first start it needs, then
    once as of now (the upper end for every later start), then only at a start outside the
    spans its readings bound."""

    def __init__(self, settings: IbmSettings) -> None:
        self.settings = settings
        self._readings: dict[str, list[Reading]] = {}  # device name -> readings, by time
        self._anchored: set[str] = set()  # devices read as of now

    def as_of(self, device: Any, moment: datetime) -> Any:
        """The properties of `device` in force at `moment` (None: it reported none)."""
        readings = self._readings.setdefault(device.name, [])
        if readings and readings[-1].as_of < moment and device.name not in self._anchored:
            self._anchored.add(device.name)  # the upper end, once: later starts lie below it
            self._read(device, readings, datetime.now(UTC))
        known = _spanning(readings, moment)
        if known is not None:
            return known.properties
        return self._read(device, readings, moment).properties

    def _read(self, device: Any, readings: list[Reading], moment: datetime) -> Reading:
        from runner.schedule import format_time

        what = f"read the calibration of {device.name} as of {format_time(moment)}"
        properties = guard(self.settings, what, partial(device.properties, datetime=moment))
        stamp = getattr(properties, "last_update_date", None)
        reading = Reading(moment, str(stamp) if stamp else None, properties)
        readings.append(reading)
        readings.sort(key=lambda r: r.as_of)
        return reading


def _spanning(readings: Sequence[Reading], moment: datetime) -> Reading | None:
    """The reading that holds at `moment`: one taken at it, or the two nearest around it
    answered the same snapshot."""
    before = [r for r in readings if r.as_of <= moment]
    after = [r for r in readings if r.as_of >= moment]
    if not before or not after:
        return None
    low, high = before[-1], after[0]
    if low.as_of == moment:
        return low
    return low if low.key is not None and low.key == high.key else None


def collect_jobs(
    settings: IbmSettings,
    calibrations: CalibrationHistory,
    job_ids: Sequence[str],
    device: str | None,
    first_job: str | None,
) -> list[JobOutcome]:
    """Jobs in this pass's pending listing are still pending (no request); each other one
    finished: its final state once, then its QPU seconds, or its error. With `first_job` (the
    caller analyses the run whose first job that is), once every one of these jobs completed,
    their results too and the calibration the first ran under; a run still waiting, or
    failed, would not use them: they are fetched in the pass that completes it."""
    listings = listings_for(settings)
    pending = listings.pending()
    outcomes, finished = [], {}
    for job_id in job_ids:
        if job_id in pending:
            length = queue_length(settings, pending[job_id])
            outcomes.append(JobOutcome(job_id, JobStatus.QUEUED, queue_length=length))
            continue
        finished[job_id] = job = listings.finished(job_id, device)
        outcomes.append(_outcome(settings, job_id, job))
    if first_job is None or not all(o.status is JobStatus.COMPLETED for o in outcomes):
        return outcomes
    outcomes = [with_results(settings, o, finished[o.job_id]) for o in outcomes]
    if first_job in finished:
        return [with_calibration(calibrations, o, finished[o.job_id]) if o.job_id == first_job
                else o for o in outcomes]  # fmt: skip
    return outcomes


def _outcome(settings: IbmSettings, job_id: str, job: Any) -> JobOutcome:
    raw = guard(settings, f"poll job {job_id}", job.status)
    status = STATUS.get(str(raw), JobStatus.QUEUED)
    if status is JobStatus.COMPLETED:
        metrics = guard(settings, f"read metrics of {job_id}", job.metrics) or {}
        usage = metrics.get("usage", {})
        seconds = usage.get("quantum_seconds", usage.get("qpu_charge_time_seconds"))
        times = metrics.get("timestamps") or {}
        return JobOutcome(
            job_id,
            status,
            quantum_seconds=float(seconds) if seconds is not None else None,
            finished_at=times.get("finished"),
            timestamps={k: str(times[k]) for k in TIMES if times.get(k)},
        )
    if status in (JobStatus.FAILED, JobStatus.CANCELLED):
        message = guard(settings, f"read the error of {job_id}", job.error_message)
        status, reason = failure(job_id, status, settings.scrub(message or ""))
        return JobOutcome(job_id, status, reason=reason)
    return JobOutcome(job_id, status, queue_length=queue_length(settings, job))


def with_results(settings: IbmSettings, outcome: JobOutcome, job: Any) -> JobOutcome:
    """A completed job's outcome with its results, as received (registers and all)."""
    from runner.analysis.record import encode_primitive_result
    from runner.backends.primitives import v2_shaped

    result = guard(settings, f"fetch results of {outcome.job_id}", job.result)
    return replace(outcome, result_json=encode_primitive_result(v2_shaped(result)))


def with_calibration(calibrations: CalibrationHistory, outcome: JobOutcome, job: Any) -> JobOutcome:
    """With the device's properties as of the job's start (`running`, else `created`): as
    job.properties() but with no second metrics request. A failed read is noted, never
    raised: it costs the job none of its results."""
    from runner.schedule import parse_time

    device, start = job.backend(), outcome.started_at
    if device is None or not start:
        return replace(outcome, properties_error="the service gave no start time or device")
    try:
        properties = calibrations.as_of(device, parse_time(start))
    except (BackendError, ValueError) as exc:
        return replace(outcome, properties_error=str(exc).removesuffix("; " + LATER))
    if properties is None:
        return replace(outcome, properties_error=f"{device.name} reported no calibration")
    return replace(outcome, properties=properties)


def queue_length(settings: IbmSettings, job: Any) -> int | None:
    """The queue length of the job's backend (IBM no longer gives a per-job position), read
    once per backend per invocation; best effort: None when the service does not answer."""
    device = job.backend()
    if device is None:
        return None
    if device.name not in settings.queues:
        try:
            status = guard(settings, "read backend status", device.status)
        except BackendError:
            status = None
        settings.queues[device.name] = (
            None if status is None else int(getattr(status, "pending_jobs", 0))
        )
    return settings.queues[device.name]


def failure(job_id: str, status: JobStatus, message: str) -> tuple[JobStatus, str]:
    """A final job's status and the service's reason in one line. The client reports
    "cancelled - ran too long" as an error; qrun records it as cancelled, with the reason."""
    if "ran longer than maximum execution time" in message:
        return JobStatus.CANCELLED, "ran too long: cancelled at its maximum execution time"
    lines = [
        line.strip()
        for line in message.splitlines()
        if line.strip() and not line.startswith(("Traceback", f"Job {job_id} "))
    ]
    if lines:
        return status, "; ".join(lines)[:500]
    return status, f"{status.value} on IBM Quantum (no reason given)"
