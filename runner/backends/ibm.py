"""The `ibm` backend: IBM Quantum through the unmodified qiskit-ibm-runtime client.

Primitive choice: SamplerV2/EstimatorV2. qiskit-ibm-runtime 0.51 deprecates SamplerV2 in
favour of the executor-based Sampler, but the V2 primitives return the same
`PrimitiveResult` as local mode (one decoding and analysis path for both), EstimatorV2 has
no executor counterpart yet, and both still run in job and batch mode on the Open Plan.
The classes are looked up through PRIMITIVES, so switching is one line.
"""

from __future__ import annotations

import json
import re
import time
import warnings
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, TypeVar

from runner.backends.base import JobOutcome, JobRef, JobStatus, RunRequest, Submission
from runner.config import Config
from runner.errors import BackendError

PRIMITIVES = {"sampler": "SamplerV2", "estimator": "EstimatorV2"}
STATUS = {
    "INITIALIZING": JobStatus.QUEUED,
    "QUEUED": JobStatus.QUEUED,
    "RUNNING": JobStatus.RUNNING,
    "DONE": JobStatus.COMPLETED,
    "ERROR": JobStatus.FAILED,
    "CANCELLED": JobStatus.CANCELLED,
}
RETRY_ATTEMPTS = 4
RETRY_BASE_SECONDS = 0.5
RETRY_MAX_SECONDS = 30.0
T = TypeVar("T")


class IbmSettings:
    """IBM Quantum credentials and endpoint, read once from the environment."""

    def __init__(self, environ: dict[str, str] | Any, max_circuits_per_job: int = 300) -> None:
        self.token = environ.get("IBM_QUANTUM_TOKEN", "").strip()
        self.instance = environ.get("IBM_QUANTUM_INSTANCE", "").strip() or None
        self.channel = environ.get("IBM_QUANTUM_CHANNEL", "").strip() or "ibm_quantum_platform"
        self.url = environ.get("IBM_QUANTUM_URL", "").strip() or None
        self.max_circuits_per_job = max_circuits_per_job
        self.service: Any = None  # created on first use, then shared by every target

    def __repr__(self) -> str:  # the token never appears in a repr
        return (
            f"IbmSettings(channel={self.channel!r}, instance={self.instance!r}, url={self.url!r})"
        )

    def scrub(self, text: str) -> str:
        """Remove the token (and bearer tokens) from any text that may reach a person."""
        if self.token:
            text = text.replace(self.token, "***")
        return re.sub(r"(?i)(bearer|apikey[=:])\s*[A-Za-z0-9._\-]{8,}", r"\1 ***", text)


def service_for(settings: IbmSettings) -> Any:
    """One QiskitRuntimeService per invocation: its constructor costs several requests."""
    if settings.service is not None:
        return settings.service
    if not settings.token:
        raise BackendError(
            "IBM Quantum targets need credentials: set IBM_QUANTUM_TOKEN (an IBM "
            "Cloud API key) and IBM_QUANTUM_INSTANCE (the instance CRN)"
        )
    import logging

    from qiskit_ibm_runtime import QiskitRuntimeService

    # "Loading account with the given token" is logged at WARNING on every construction.
    logging.getLogger("qiskit_ibm_runtime.qiskit_runtime_service").setLevel(logging.ERROR)
    kwargs: dict[str, Any] = {
        "channel": settings.channel,
        "token": settings.token,
        "instance": settings.instance,
    }
    if settings.url:
        kwargs["url"] = settings.url
        kwargs["url_resolver"] = lambda url, instance, private, channel: url.rstrip("/") + "/api/v1"
    settings.service = _guard(
        settings, "connect to IBM Quantum", lambda: QiskitRuntimeService(**kwargs)
    )
    return settings.service


def _guard(settings: IbmSettings, what: str, call: Callable[[], T]) -> T:
    """Run a client call: bounded retries on transient faults, clear errors, no token leaks."""
    from qiskit_ibm_runtime.exceptions import IBMNotAuthorizedError
    from requests.exceptions import ConnectionError as RequestsConnectionError
    from requests.exceptions import Timeout

    started = time.monotonic()
    for attempt in range(RETRY_ATTEMPTS):
        try:
            return call()
        except IBMNotAuthorizedError:
            raise BackendError(
                f"IBM Quantum refused the credentials while trying to {what}: "
                "check IBM_QUANTUM_TOKEN and IBM_QUANTUM_INSTANCE"
            ) from None
        except (RequestsConnectionError, Timeout) as exc:
            problem = f"{type(exc).__name__}"
        except Exception as exc:  # client errors: classify by text, never show the token
            text = settings.scrub(str(exc))
            if re.search(r"\b(401|403)\b|[Uu]nauthori[sz]ed|[Ff]orbidden", text):
                raise BackendError(
                    f"IBM Quantum refused the credentials while trying to {what}: "
                    "check IBM_QUANTUM_TOKEN and IBM_QUANTUM_INSTANCE"
                ) from None
            if not re.search(r"\b(429|500|502|503|504)\b|[Tt]oo [Mm]any|[Tt]imed? ?out", text):
                raise BackendError(f"IBM Quantum: could not {what}: {text}") from None
            problem = text.splitlines()[0][:200] if text else type(exc).__name__
        delay = min(RETRY_BASE_SECONDS * 2**attempt, RETRY_MAX_SECONDS)
        if time.monotonic() - started + delay > RETRY_MAX_SECONDS:
            break
        time.sleep(delay)
    raise BackendError(
        f"IBM Quantum: could not {what} after {attempt + 1} attempts ({problem}); "
        "the run stays pending and will be retried on the next apply"
    )


def chunks(items: Sequence[T], size: int) -> list[list[T]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)] or [[]]


class IbmBackend:
    """Backend protocol on IBM Quantum hardware (or the emulator in tests)."""

    def __init__(self, settings: IbmSettings, target: str) -> None:
        self.settings, self.target = settings, target
        self._backends: dict[str, Any] = {}

    @property
    def service(self) -> Any:
        return service_for(self.settings)

    def device(self, min_qubits: int = 1) -> Any:
        """The backend object; least_busy picks an operational device wide enough."""
        if self.target in self._backends:
            return self._backends[self.target]
        if self.target == "least_busy":
            found = _guard(
                self.settings,
                "find the least busy backend",
                lambda: self.service.least_busy(
                    min_num_qubits=min_qubits, operational=True, simulator=False
                ),
            )
        else:
            names = _guard(
                self.settings, "list backends", lambda: [b.name for b in self.service.backends()]
            )
            if self.target not in names:
                raise BackendError(
                    f"Unknown backend '{self.target}'. Available to this instance: "
                    f"{', '.join(sorted(names)) or 'none'}"
                )
            found = _guard(
                self.settings,
                f"open backend {self.target}",
                lambda: self.service.backend(self.target),
            )
        self._backends[self.target] = found
        return found

    def _primitive(self, request: RunRequest, mode: Any) -> Any:
        import qiskit_ibm_runtime

        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore",
                message=r"The (Sampler|Estimator)V2 class is deprecated",
                category=DeprecationWarning,
            )
            primitive = getattr(qiskit_ibm_runtime, PRIMITIVES[request.primitive])(mode=mode)
        options = primitive.options
        options.default_shots = request.shots
        options.environment.job_tags = list(request.tags)
        opts = dict(request.options)
        if "dynamical_decoupling" in opts:
            for key, value in opts["dynamical_decoupling"].items():
                setattr(options.dynamical_decoupling, key, value)
        if "twirling" in opts:
            for key, value in opts["twirling"].items():
                setattr(options.twirling, key, value)
        if request.primitive == "estimator" and "resilience_level" in opts:
            options.resilience_level = opts["resilience_level"]
        return primitive

    def submit(self, request: RunRequest) -> Submission:
        """Transpile to the device's ISA (seeded), pack PUBs into jobs, submit in batch mode if several."""
        from runner.backends.local import device_calibration
        from runner.backends.transpile import (
            apply_layout_to_observables,
            transpile_for,
            two_qubit_edges,
        )

        device = self.device(request.min_qubits)
        isa, infos = transpile_for(
            request.circuits, device, request.optimization_level, request.seed
        )
        pubs: list[Any] = []
        for job, circuit in zip(request.circuits, isa, strict=True):
            if request.primitive == "estimator":
                pubs.append((circuit, apply_layout_to_observables(job.observables, circuit)))
            else:
                pubs.append((circuit,))
        ids = [c.circuit_id for c in request.circuits]
        parts = list(
            zip(
                chunks(pubs, self.settings.max_circuits_per_job),
                chunks(ids, self.settings.max_circuits_per_job),
                strict=True,
            )
        )
        refs: list[JobRef] = []
        if len(parts) == 1:
            primitive = self._primitive(request, device)
            job = _guard(self.settings, "submit the job", lambda: primitive.run(parts[0][0]))
            refs.append(JobRef(job.job_id(), tuple(parts[0][1])))
        else:
            from qiskit_ibm_runtime import Batch

            with Batch(backend=device) as batch:
                for index, (part, part_ids) in enumerate(parts):
                    primitive = self._primitive(request, batch)
                    primitive.options.environment.job_tags = [*request.tags, f"qrun:part:{index}"]
                    job = _guard(self.settings, "submit the job", partial(primitive.run, part))
                    refs.append(JobRef(job.job_id(), tuple(part_ids)))
        used = sorted({q for info in infos.values() for q in info.physical_qubits})
        properties = _guard(self.settings, "read calibration", device.properties)
        calibration = (
            device_calibration(properties, used, two_qubit_edges(isa)) if properties else {}
        )
        return Submission(
            backend=device.name, jobs=tuple(refs), transpiled=infos, calibration=calibration
        )

    def find_jobs(self, request: RunRequest) -> tuple[JobRef, ...]:
        """Jobs already tagged with this run id: a crash after submit must not submit twice."""
        jobs = _guard(
            self.settings,
            "look up jobs by tag",
            lambda: self.service.jobs(job_tags=[f"qrun:{request.run_id}"], limit=None),
        )
        if not jobs:
            return ()
        ids = [c.circuit_id for c in request.circuits]
        parts = chunks(ids, self.settings.max_circuits_per_job)

        def part_of(job: Any) -> int:
            tag = next((t for t in (job.tags or []) if t.startswith("qrun:part:")), "qrun:part:0")
            return int(tag.rsplit(":", 1)[1])

        found = sorted(jobs, key=part_of)
        return tuple(
            JobRef(job.job_id(), tuple(parts[min(part_of(job), len(parts) - 1)])) for job in found
        )

    def collect(self, job_ids: Sequence[str]) -> list[JobOutcome]:
        """Poll each pending job once; fetch results and QPU seconds of finished ones."""
        from qiskit_ibm_runtime import RuntimeEncoder

        outcomes = []
        queue: list[int | None] = []
        for job_id in job_ids:
            job = _guard(self.settings, f"look up job {job_id}", partial(self.service.job, job_id))
            raw = _guard(self.settings, f"poll job {job_id}", job.status)
            status = STATUS.get(str(raw), JobStatus.QUEUED)
            if status is JobStatus.COMPLETED:
                result = _guard(self.settings, f"fetch results of {job_id}", job.result)
                metrics = _guard(self.settings, f"read metrics of {job_id}", job.metrics)
                usage = (metrics or {}).get("usage", {})
                seconds = usage.get("quantum_seconds", usage.get("qpu_charge_time_seconds"))
                text = json.dumps(result, cls=RuntimeEncoder, sort_keys=True)
                outcomes.append(
                    JobOutcome(
                        job_id,
                        status,
                        result_json=text,
                        quantum_seconds=float(seconds) if seconds is not None else None,
                    )
                )
            elif status in (JobStatus.FAILED, JobStatus.CANCELLED):
                reason = _guard(self.settings, f"read the error of {job_id}", job.error_message)
                outcomes.append(
                    JobOutcome(
                        job_id, status, reason=self.settings.scrub(reason or str(raw).lower())
                    )
                )
            else:
                queue = queue or [self.queue_length()]  # one status call per backend, not per job
                outcomes.append(JobOutcome(job_id, status, queue_length=queue[0]))
        return outcomes

    def queue_length(self) -> int | None:
        """The backend's queue length (IBM no longer reports a per-job position)."""
        if self.target == "least_busy" and self.target not in self._backends:
            return None
        status = _guard(self.settings, "read backend status", lambda: self.device().status())
        return int(getattr(status, "pending_jobs", 0))

    def cancel(self, job_ids: Sequence[str]) -> None:
        from qiskit_ibm_runtime.exceptions import RuntimeInvalidStateError

        for job_id in job_ids:
            job = _guard(self.settings, f"look up job {job_id}", partial(self.service.job, job_id))
            try:
                _guard(self.settings, f"cancel job {job_id}", job.cancel)
            except (RuntimeInvalidStateError, BackendError):
                continue  # already final: nothing to cancel

    def remaining_seconds(self) -> float | None:
        """QPU seconds left on the instance, when the service reports a limit."""
        usage = _guard(self.settings, "read instance usage", self.service.usage)
        left = (usage or {}).get("usage_remaining_seconds")
        if (usage or {}).get("usage_limit_reached"):
            return 0.0
        return float(left) if left is not None else None


def settings_from(config: Config) -> IbmSettings:
    """IBM settings for one invocation (one service shared by all IBM targets)."""
    return IbmSettings(config.environ, config.limits.max_circuits_per_job)
