"""Collection on IBM Quantum in as few requests as the unmodified client allows.

A pass lists the instance's pending qrun-tagged jobs once: a job in that listing is still
waiting and costs nothing more. A job absent from it has finished. Its client object comes
from the listing of finished qrun-tagged jobs (newest first, a page at a time, only as far as
the pass needs it) rather than from `service.job(id)`, because the object that call returns
does not keep the state it was fetched with: its `status()` would fetch the job again. So a
finished job costs one `GET /jobs/{id}` (its final state) and, when it completed, one for its
metrics (QPU seconds, timestamps); its results are fetched once the run can use them, when
every job of the run completed: one more request each, as the client offers them.

The calibration a run ran under is read once per calibration of a device, not once per job:
a read as of time t answers the snapshot dated d <= t, which is then the one of every start
in [d, t]; the device's newest snapshot is the one of every start after its date.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from typing import Any

from runner.backends.base import JobOutcome, JobStatus
from runner.backends.ibm_client import LATER, IbmSettings, guard, service_for
from runner.errors import BackendError

TIMES = ("created", "running", "finished")  # the job timestamps the service reports
PENDING_LIMIT = 10_000  # pages of the service's largest size, not of the client's 20
FINISHED_PAGE = 200  # the service's largest page
FINISHED_PAGES = 3  # per pass: a job that finished before the newest 600 is looked up by id
NEVER = datetime.max.replace(tzinfo=UTC)  # the date of a snapshot that holds for no start
STATUS = {
    "INITIALIZING": JobStatus.QUEUED,
    "QUEUED": JobStatus.QUEUED,
    "RUNNING": JobStatus.RUNNING,
    "DONE": JobStatus.COMPLETED,
    "ERROR": JobStatus.FAILED,
    "CANCELLED": JobStatus.CANCELLED,
}


class JobListings:
    """This invocation's listings of the instance's qrun-tagged jobs, shared by all targets."""

    def __init__(self, settings: IbmSettings) -> None:
        self.settings = settings
        self._pending: dict[str, Any] | None = None
        self._finished: dict[str, Any] = {}
        self._pages = 0
        self._listed_all = False

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

    def finished(self, job_id: str) -> Any:
        """The client's object of a job absent from the pending listing: from the pages of
        finished jobs read so far or the next ones, else (older, or created since the pending
        listing) looked up by id."""
        service = service_for(self.settings)
        while job_id not in self._finished and self._more_pages():
            page = guard(
                self.settings,
                "list finished jobs",
                partial(service.jobs, job_tags=["qrun"], pending=False, limit=FINISHED_PAGE,
                        skip=self._pages * FINISHED_PAGE),
            )  # fmt: skip
            page = page or []
            self._pages += 1
            self._listed_all = len(page) < FINISHED_PAGE
            self._finished.update((job.job_id(), job) for job in page)
        if job_id in self._finished:
            return self._finished[job_id]
        return guard(self.settings, f"look up job {job_id}", partial(service.job, job_id))

    def _more_pages(self) -> bool:
        return not self._listed_all and self._pages < FINISHED_PAGES


def listings_for(settings: IbmSettings) -> JobListings:
    """The invocation's listings (created on first use, like its service)."""
    if settings.listings is None:
        settings.listings = JobListings(settings)
    listings: JobListings = settings.listings
    return listings


@dataclass(frozen=True)
class Snapshot:
    """A device calibration known to be the one in force from `dated` to `until`."""

    dated: datetime
    until: datetime | None  # None: the newest, in force up to now
    properties: Any


class CalibrationHistory:
    """Device properties as of given moments, each snapshot read once per invocation."""

    def __init__(self, settings: IbmSettings) -> None:
        self.settings = settings
        self._known: dict[str, list[Snapshot]] = {}  # device name -> snapshots read

    def as_of(self, device: Any, moment: datetime) -> Any:
        """The properties of `device` in force at `moment` (None: it reported none)."""
        known = self._known.setdefault(device.name, [])
        if not known:  # the newest first: it covers every job that started since its date
            known.append(self._read(device, None))
        for snapshot in known:
            if snapshot.dated <= moment and (snapshot.until is None or moment <= snapshot.until):
                return snapshot.properties
        snapshot = self._read(device, moment)
        known.append(snapshot)
        return snapshot.properties

    def _read(self, device: Any, moment: datetime | None) -> Snapshot:
        from runner.schedule import format_time

        if moment is None:
            what = f"read the calibration of {device.name}"
            read = partial(device.properties, refresh=True)
        else:
            what = f"read the calibration of {device.name} as of {format_time(moment)}"
            read = partial(device.properties, datetime=moment)
        properties = guard(self.settings, what, read)
        dated = _dated(properties)
        if dated is None or (moment is not None and dated > moment):  # known for `moment` only
            return Snapshot(moment or NEVER, moment, properties)
        return Snapshot(dated, moment, properties)


def _dated(properties: Any) -> datetime | None:
    """A snapshot's date as an aware UTC datetime (None when it has none)."""
    from runner.schedule import parse_time

    stamp = getattr(properties, "last_update_date", None)
    if isinstance(stamp, datetime):
        return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)
    return parse_time(str(stamp)) if stamp else None


def collect_jobs(
    settings: IbmSettings,
    calibrations: CalibrationHistory,
    job_ids: Sequence[str],
    calibrated: str | None,
) -> list[JobOutcome]:
    """Jobs in this pass's pending listing are still pending (no request); each other one
    finished: its final state once, then its QPU seconds, or its error. Results are fetched
    only once every one of these jobs completed (a run still waiting, or failed, would not
    use them: they are fetched when it completes), and with them the calibration of the job
    `calibrated` (a run is described by its first)."""
    listings = listings_for(settings)
    pending = listings.pending()
    outcomes, finished = [], {}
    for job_id in job_ids:
        if job_id in pending:
            length = queue_length(settings, pending[job_id])
            outcomes.append(JobOutcome(job_id, JobStatus.QUEUED, queue_length=length))
            continue
        finished[job_id] = job = listings.finished(job_id)
        outcomes.append(_outcome(settings, job_id, job))
    if not all(o.status is JobStatus.COMPLETED for o in outcomes):
        return outcomes
    outcomes = [with_results(settings, o, finished[o.job_id]) for o in outcomes]
    if calibrated in finished:
        return [with_calibration(calibrations, o, finished[o.job_id]) if o.job_id == calibrated
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
