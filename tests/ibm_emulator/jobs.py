"""Job records and their life cycle: Queued -> Running -> Completed over successive polls.

Each ``GET /jobs/{id}`` is one poll. A job answers ``Queued`` for ``queued_polls`` polls,
``Running`` for ``running_polls`` polls, then its final state. The simulation runs in a
worker thread from submission; the poll that would report the final state waits for it.
A held job stays ``Queued`` until released, and so does every job while the instance's
usage limit is reached (the real service accepts work it cannot run yet).
"""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Iterator, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

PENDING = ("Queued", "Running")
FINAL = ("Completed", "Failed", "Cancelled")
RAN_TOO_LONG_CODE = 1305


def utc_now() -> datetime:
    """Timezone-aware now (the service speaks UTC ISO 8601)."""
    return datetime.now(UTC)


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 with a Z suffix, as the service writes timestamps."""
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


@dataclass
class EmulatedJob:
    """Everything the emulator knows about one job."""

    id: str
    backend: str
    program_id: str
    tags: list[str]
    session_id: str | None
    private: bool
    max_execution_time: int | None
    body: bytes
    quantum_seconds: int = 0
    num_circuits: int = 0
    status: str = "Queued"
    reason: str | None = None
    reason_code: int | None = None
    created: datetime = field(default_factory=utc_now)
    running: datetime | None = None
    finished: datetime | None = None
    polls: int = 0  # polls answered in the current state
    held: bool = False
    fail_with: tuple[str, int | None] | None = None
    future: Future[str] | None = field(default=None, repr=False)
    result_text: str | None = None
    charged_seconds: int = 0
    billed: bool = True  # False on a mock device (a dry run): estimated, never charged

    @property
    def pending(self) -> bool:
        """Queued or Running."""
        return self.status in PENDING

    def to_api(self) -> dict[str, Any]:
        """The ``GET /jobs/{id}`` document."""
        state: dict[str, Any] = {"status": self.status}
        if self.reason is not None:
            state["reason"] = self.reason
        if self.reason_code is not None:
            state["reason_code"] = self.reason_code
        return {
            "id": self.id,
            "backend": self.backend,
            "state": state,
            "status": self.status,
            "program": {"id": self.program_id},
            "created": iso(self.created),
            "tags": list(self.tags),
            "session_id": self.session_id,
            "runtime": "",
            "private": self.private,
            "cost": self.max_execution_time or 0,
            "estimated_running_time_seconds": float(self.quantum_seconds),
            "usage": {"quantum_seconds": self.charged_seconds, "seconds": self.charged_seconds},
        }

    def metrics(self, num_qubits: int) -> dict[str, Any]:
        """The ``GET /jobs/{id}/metrics`` document."""
        final = self.status in FINAL
        seconds = self.charged_seconds if final else 0
        return {
            "timestamps": {
                "created": iso(self.created),
                "running": iso(self.running),
                "finished": iso(self.finished),
            },
            "bss": {"seconds": seconds},
            "usage": {
                "quantum_seconds": seconds,
                "seconds": seconds,
                "qpu_charge_time_seconds": seconds,
                "status": "final" if final else "pending",
            },
            "executions": self.num_circuits,
            "num_circuits": self.num_circuits,
            "num_qubits": [num_qubits],
            "qiskit_version": "emulator",
            "caller": "qiskit_ibm_runtime",
        }


def new_job_id() -> str:
    """IBM job ids are 20 lowercase alphanumerics."""
    return uuid.uuid4().hex[:20]


class JobBook(Mapping[str, EmulatedJob]):
    """The test-facing view of the jobs: read them, hold, release, force or fail them."""

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self._jobs: dict[str, EmulatedJob] = {}
        self.hold_new = False
        self._fail_next: list[tuple[str, int | None]] = []

    def __getitem__(self, job_id: str) -> EmulatedJob:
        with self._lock:
            return self._jobs[job_id]

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            return iter(list(self._jobs))

    def __len__(self) -> int:
        with self._lock:
            return len(self._jobs)

    def add(self, job: EmulatedJob) -> None:
        """Register a new job, applying ``hold_new`` and queued ``fail_next`` requests (to
        jobs on devices: a dry run on a mock twin is not what a test holds or fails)."""
        with self._lock:
            job.held = job.held or (self.hold_new and job.billed)
            if self._fail_next and job.billed:
                job.fail_with = self._fail_next.pop(0)
            self._jobs[job.id] = job

    def remove(self, job_id: str) -> bool:
        """Delete a job; False if there was none."""
        with self._lock:
            return self._jobs.pop(job_id, None) is not None

    def all(self) -> list[EmulatedJob]:
        """Every job, oldest first."""
        with self._lock:
            return list(self._jobs.values())

    def hold(self, job_id: str | None = None) -> None:
        """Keep one job (or, with no id, every job submitted from now on) Queued."""
        with self._lock:
            if job_id is None:
                self.hold_new = True
            else:
                self._jobs[job_id].held = True

    def release(self, job_id: str | None = None) -> None:
        """Let a held job (or, with no id, every job, and new ones) advance again."""
        with self._lock:
            if job_id is None:
                self.hold_new = False
                for job in self._jobs.values():
                    job.held = False
            else:
                self._jobs[job_id].held = False

    def duplicate(self, job_id: str) -> str:
        """A second job with the same tags, program and result: what a client retry of a
        POST /jobs whose answer was lost leaves on the service. Returns its id."""
        with self._lock:
            original = self._jobs[job_id]
            twin = dataclasses.replace(
                original,
                id=new_job_id(),
                status="Queued",
                polls=0,
                created=utc_now(),
                running=None,
                finished=None,
                reason=None,
                reason_code=None,
                result_text=None,
                charged_seconds=0,
                held=original.held or self.hold_new,
            )
            self._jobs[twin.id] = twin
            return twin.id

    def fail_next(
        self, reason: str = "Job failed in emulator", reason_code: int | None = None, count: int = 1
    ) -> None:
        """Make the next ``count`` submitted jobs end Failed with this reason."""
        with self._lock:
            self._fail_next.extend([(reason, reason_code)] * count)

    def force(
        self, job_id: str, status: str, reason: str | None = None, reason_code: int | None = None
    ) -> None:
        """Put a job straight into a state ("Completed" waits for its simulation)."""
        if status not in PENDING + FINAL:
            raise ValueError(f"unknown job status {status!r}")
        with self._lock:
            job = self._jobs[job_id]
        if status == "Completed" and job.future is not None:
            job.future.exception()  # wait outside the lock
        with self._lock:
            self._enter(job, status, reason, reason_code)

    def _enter(
        self,
        job: EmulatedJob,
        status: str,
        reason: str | None = None,
        reason_code: int | None = None,
    ) -> None:
        """Move to ``status`` (lock held), stamping times and settling the final state."""
        job.status, job.polls = status, 0
        job.reason, job.reason_code = reason, reason_code
        if status == "Running" and job.running is None:
            job.running = utc_now()
        if status in FINAL:
            job.finished = utc_now()
            if status == "Completed" and job.running is None:
                job.running = job.finished
            if status == "Completed" and job.future is not None and job.future.done():
                error = job.future.exception()
                if error is None:
                    job.result_text = job.future.result()
                else:
                    job.status, job.reason = "Failed", f"Error running the job: {error}"
            job.charged_seconds = _charge(job)

    def poll(
        self, job_id: str, queued_polls: int, running_polls: int, blocked: bool
    ) -> EmulatedJob:
        """One ``GET /jobs/{id}``: advance the job if its polls in this state are used up."""
        with self._lock:
            job = self._jobs[job_id]
            startable = job.status == "Queued" and not job.held and not blocked
            if startable and job.polls >= queued_polls:
                self._enter(job, "Running")
            finishing = job.status == "Running" and job.polls >= running_polls
        if finishing and job.future is not None:
            job.future.exception()  # let the simulation finish, outside the lock
        with self._lock:
            if finishing and job.status == "Running":
                self._finish(job)
            job.polls += 1
            return job

    def cancel(self, job_id: str) -> bool:
        """Cancel a pending job; False when it is already final (the API answers 409)."""
        with self._lock:
            job = self._jobs[job_id]
            if job.status in FINAL:
                return False
            self._enter(job, "Cancelled", "Cancelled by user")
            return True

    def _finish(self, job: EmulatedJob) -> None:
        if job.fail_with is not None:
            self._enter(job, "Failed", *job.fail_with)
        elif job.max_execution_time and job.quantum_seconds > job.max_execution_time:
            self._enter(job, "Cancelled", "Ran too long", RAN_TOO_LONG_CODE)
        else:
            self._enter(job, "Completed")


def _charge(job: EmulatedJob) -> int:
    """QPU seconds billed for a final job: what ran, capped by max_execution_time."""
    if job.running is None or not job.billed:
        return 0
    if job.status == "Cancelled":
        if job.reason_code == RAN_TOO_LONG_CODE:
            return job.max_execution_time or 0
        return 0
    return job.quantum_seconds
