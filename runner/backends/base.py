"""The contract every execution backend fulfils; the pipeline only talks to this."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from qiskit import QuantumCircuit


class JobStatus(StrEnum):
    """Lifecycle of one job as the lock file records it."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)


@dataclass(frozen=True)
class CircuitJob:
    """One logical circuit (one PUB) of a run, before transpilation."""

    circuit_id: str
    circuit: QuantumCircuit
    observables: tuple[str, ...] = ()
    layout: tuple[int, ...] | None = None  # physical qubit of each circuit qubit (pinned)


def _silent(phase: str, detail: str = "") -> None:
    """Progress nobody watches."""


def _unclaimed() -> None:
    """No claim to keep (a run outside apply's claim protocol)."""


@dataclass(frozen=True)
class RunRequest:
    """Everything a backend needs to execute one run of one spec."""

    name: str
    run_id: str
    target: str
    primitive: Literal["sampler", "estimator"]
    shots: int
    optimization_level: int
    seed: int
    circuits: tuple[CircuitJob, ...]
    options: Mapping[str, Any] = field(default_factory=dict)
    min_qubits: int = 1
    # told "transpile", "run" (with a detail such as "submit job 2/3") as the backend goes
    progress: Callable[[str, str], None] = field(default=_silent, compare=False, repr=False)
    # called by the backend before each job it creates: keeps the run's claim ours while it
    # posts (renewed once half its lease has passed; raises when another runner took it over)
    renew: Callable[[], None] = field(default=_unclaimed, compare=False, repr=False)

    @property
    def tags(self) -> tuple[str, ...]:
        """Job tags that let a later runner find this run's jobs on the service."""
        return run_tags(self.name, self.run_id)


def run_tags(name: str, run_id: str) -> tuple[str, ...]:
    """The tags of a run's jobs: run ids are not unique across specs, so both are needed."""
    return ("qrun", f"qrun:{name}", f"qrun:{run_id}")


@dataclass(frozen=True)
class TranspileInfo:
    """What transpilation to the target produced for one circuit."""

    depth: int
    two_qubit_gates: int
    physical_qubits: tuple[int, ...]


@dataclass(frozen=True)
class JobRef:
    """A submitted job, the circuit ids (PUB order) it carries and, when the service said,
    the device it runs on (a least_busy run's jobs found again name theirs)."""

    job_id: str
    circuit_ids: tuple[str, ...]
    backend: str | None = None


@dataclass(frozen=True)
class Submission:
    """What submit() returns: the resolved backend and the jobs created."""

    backend: str
    jobs: tuple[JobRef, ...]
    transpiled: Mapping[str, TranspileInfo]
    calibration: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class JobOutcome:
    """The state of one job as seen now; result_json is set when the caller analyses its run
    and it and the jobs collected with it completed."""

    job_id: str
    status: JobStatus
    reason: str | None = None
    result_json: str | None = None
    quantum_seconds: float | None = None
    queue_length: int | None = None
    finished_at: str | None = None  # when the job ended (UTC, lock-file format), if known
    properties: Any = None  # the device's calibration as of started_at (IBM: BackendProperties)
    properties_error: str | None = None  # why properties could not be read
    timestamps: Mapping[str, str] = field(default_factory=dict)  # the service's created, running
    # and finished times of the job, as it reported them (IBM); empty for local jobs

    @property
    def started_at(self) -> str | None:
        """When the job started on the device by the service's clock (else when created)."""
        return self.timestamps.get("running") or self.timestamps.get("created")


class Backend(Protocol):
    """An execution backend. Local backends complete jobs inside submit()."""

    def submit(self, request: RunRequest) -> Submission:
        """Transpile (seeded) to the target's ISA and submit; return job references."""
        ...

    def check(self, min_qubits: int = 1) -> None:
        """Raise BackendError when the target cannot be used (credentials, unknown name),
        before anything is claimed or submitted."""
        ...

    def find_jobs(self, request: RunRequest) -> tuple[JobRef, ...]:
        """Jobs already on the service tagged with this run id (adopt instead of resubmitting)."""
        ...

    def strays(self, tags: Sequence[str], known: Sequence[str]) -> list[tuple[str, int]]:
        """(job id, batch part) of pending jobs carrying all these tags (a run's) that are not
        among known: jobs a slow runner created after another took its claim over."""
        ...

    def collect(self, job_ids: Sequence[str], first_job: str | None = None) -> list[JobOutcome]:
        """Current state of each job (with QPU seconds once final). With `first_job`, the
        first job of the run the caller analyses: when every one completed, with their
        results, and the first with the device's calibration as it ran where the backend
        reads one (a run is described by its first job)."""
        ...

    def cancel(self, job_ids: Sequence[str]) -> list[str]:
        """Cancel pending jobs; returns the ids found already final (left alone, so that
        collection records how they really ended)."""
        ...
