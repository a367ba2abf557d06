"""The `ibm` backend: IBM Quantum through the unmodified qiskit-ibm-runtime client.

Jobs are submitted through the executor-based Sampler and Estimator (program `executor`,
see `runner.backends.primitives`), in job mode for one job and in Batch mode for several;
their results are stored as the same result of record local mode writes.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from contextlib import suppress
from functools import partial
from typing import Any, TypeVar

from runner.backends.base import JobOutcome, JobRef, RunRequest, Submission
from runner.backends.ibm_client import IbmSettings, guard, service_for
from runner.backends.ibm_collect import CalibrationHistory, collect_jobs, listings_for
from runner.backends.primitives import make_primitive, make_pubs
from runner.config import Config
from runner.deadline import DeadlineExceeded
from runner.errors import BackendError, CredentialsError, QrunError, SubmitUncertain
from runner.output import plural

__all__ = ["IbmBackend", "IbmSettings", "available_backends", "service_for", "settings_from"]

T = TypeVar("T")


def chunks(items: Sequence[T], size: int) -> list[list[T]]:
    """Consecutive slices of at most size items: the PUBs of each job, in order."""
    return [list(items[i : i + size]) for i in range(0, len(items), size)] or [[]]


class IbmBackend:
    """Backend protocol on IBM Quantum hardware (or the emulator in tests)."""

    def __init__(self, settings: IbmSettings, target: str) -> None:
        self.settings, self.target = settings, target
        self._backends: dict[str, Any] = {}
        self._found: dict[str, dict[int, JobRef]] = {}  # run id -> part -> job, by find_jobs
        self._calibrations = CalibrationHistory(settings)

    @property
    def service(self) -> Any:
        return service_for(self.settings)

    def device(self, min_qubits: int = 1) -> Any:
        """The backend object; least_busy picks an operational device wide enough."""
        if self.target in self._backends:
            return self._backends[self.target]
        if self.target == "least_busy":
            found = guard(
                self.settings,
                "find the least busy backend",
                lambda: self.service.least_busy(
                    min_num_qubits=min_qubits, operational=True, simulator=False
                ),
            )
        else:
            found = self._open(self.target)
        self._backends[self.target] = found
        return found

    def _open(self, name: str) -> Any:
        """service.backend(name). The client answers "no backend matches" both for an unknown
        name and when listing the instance's backends failed (it swallows that error), so a
        miss is checked against a second listing before the name is called unknown."""
        found = guard(self.settings, f"open backend {name}", partial(_backend_or_none, self, name))
        if found is not None:
            return found
        names = available_backends(self.settings)
        if name in names:
            found = guard(
                self.settings, f"open backend {name}", partial(_backend_or_none, self, name)
            )
            if found is not None:
                return found
        if not names:
            raise BackendError(
                f"IBM Quantum listed no backends for this instance while opening '{name}': the "
                "service may be unavailable, or IBM_QUANTUM_INSTANCE has access to none; "
                "try again later"
            )
        raise BackendError(unknown_backend_message(name, names))

    def submit(self, request: RunRequest) -> Submission:
        """Transpile to the device's ISA (seeded), pack PUBs into jobs, submit in batch mode if
        several. Parts find_jobs already found (a crash between two submissions of a batch)
        are kept and fix the device (least_busy may name another one now): only the missing
        parts are submitted, none when all were found (the transpile info is derived again,
        the same as it is seeded). The calibration is read before the first job is created,
        so that no failure after a job exists can lose it."""
        from runner.backends.local import device_calibration
        from runner.backends.transpile import (
            apply_layout_to_observables,
            transpile_for,
            two_qubit_edges,
        )

        refs = dict(self._found.pop(request.run_id, {}))
        device = self._device_of(refs, request.min_qubits)
        count = plural(len(request.circuits), "circuit")
        request.progress("transpile", f"transpile {count} for {device.name}")
        isa, infos = transpile_for(
            request.circuits, device, request.optimization_level, request.seed
        )
        used = sorted({q for info in infos.values() for q in info.physical_qubits})
        properties = guard(self.settings, "read calibration", device.properties)
        calibration = (
            device_calibration(properties, used, two_qubit_edges(isa)) if properties else {}
        )
        observables = [
            apply_layout_to_observables(job.observables, circuit) if job.observables else []
            for job, circuit in zip(request.circuits, isa, strict=True)
        ]
        pubs = chunks(make_pubs(request, isa, observables), self.settings.max_circuits_per_job)
        todo = [i for i in range(len(pubs)) if i not in refs]
        try:
            self._create_all(request, device, pubs, todo, refs)
        except QrunError as exc:  # the jobs already created go with the error: none is lost
            exc.created = tuple(refs[i] for i in sorted(refs))
            raise
        return Submission(
            backend=device.name,
            jobs=tuple(refs[i] for i in sorted(refs)),
            transpiled=infos,
            calibration=calibration,
        )

    def _create_all(
        self, request: RunRequest, device: Any, pubs: list[list[Any]], todo: list[int],
        refs: dict[int, JobRef],
    ) -> None:  # fmt: skip
        """Create the parts in todo, each added to refs as soon as it exists: one job in job
        mode, several in one Batch."""
        if len(todo) == 1:
            request.progress("run", f"submit job to {device.name}")
            primitive = make_primitive(request, device)
            if len(pubs) > 1:
                primitive.options.environment.job_tags = [*request.tags, f"qrun:part:{todo[0]}"]
            refs[todo[0]] = self._create(request, todo[0], partial(primitive.run, pubs[todo[0]]))
        elif todo:
            from qiskit_ibm_runtime import Batch

            batch = guard(self.settings, "open a batch", partial(Batch, backend=device))
            try:
                for n, index in enumerate(todo, 1):
                    request.progress("run", f"submit job {n}/{len(todo)} to {device.name}")
                    primitive = make_primitive(request, batch)
                    primitive.options.environment.job_tags = [*request.tags, f"qrun:part:{index}"]
                    refs[index] = self._create(request, index, partial(primitive.run, pubs[index]))
            finally:
                # Stop accepting jobs (the ones in the batch run either way). An open batch
                # expires by itself: never lose the job ids over failing to close it.
                with suppress(BackendError):
                    guard(self.settings, "close the batch", batch.close)

    def _device_of(self, found: dict[int, JobRef], min_qubits: int) -> Any:
        """The device of the run's jobs already found (the first part's), else the target's."""
        name = next((found[i].backend for i in sorted(found) if found[i].backend), None)
        if name is None or name == self.target:
            return self.device(min_qubits)
        if name not in self._backends:
            self._backends[name] = self._open(name)
        return self._backends[name]

    def check(self, min_qubits: int = 1) -> None:
        """Credentials work and the device exists: fails before a run is claimed."""
        self.device(min_qubits)

    def _create(self, request: RunRequest, part: int, run: Any) -> JobRef:
        """POST one job, exactly once, while the claim is ours (request.renew): after an
        answer that never came, the job is looked up by its tags; found, it is the job; not
        found, the claim stays for the next apply."""
        request.renew()
        try:
            job = guard(self.settings, "submit the job", run, create=True)
        except (SubmitUncertain, DeadlineExceeded) as exc:  # the job may exist
            try:
                found = first_per_part(self._tagged(request)).get(part)
            except CredentialsError:
                raise
            except BackendError as lookup:  # a refused lookup says nothing of the job
                raise SubmitUncertain(
                    f"{exc}; looking it up by tag failed too ({lookup}), so the claim stays: "
                    "a later apply adopts it by tag or submits"
                ) from None
            if found is not None:
                return found
            raise SubmitUncertain(
                f"{exc}; none carries the run's tags yet, so the claim stays: a later apply "
                "adopts it by tag or submits"
            ) from None
        ids = chunks([c.circuit_id for c in request.circuits], self.settings.max_circuits_per_job)
        return JobRef(job.job_id(), tuple(ids[part]), device_name(job))

    def find_jobs(self, request: RunRequest) -> tuple[JobRef, ...]:
        """Every job tagged with this spec's name and run id, oldest first (a crash after
        submit must not submit twice; a part found twice is the caller's surplus). Both tags:
        run ids are not unique across specs."""
        refs = self._tagged(request)
        self._found[request.run_id] = first_per_part(refs)
        return tuple(ref for _, ref in refs)

    def _tagged(self, request: RunRequest) -> list[tuple[int, JobRef]]:
        """(part, job) of every job carrying the run's tags, oldest first; each job names its
        device (the listing already carries it: no request of its own)."""
        jobs = guard(
            self.settings,
            "look up jobs by tag",
            lambda: self.service.jobs(job_tags=list(request.tags), limit=None),
        )
        parts = chunks([c.circuit_id for c in request.circuits], self.settings.max_circuits_per_job)
        found = []
        for job in reversed(jobs or []):
            part = part_of(job.tags or [])
            if part < len(parts):
                found.append((part, JobRef(job.job_id(), tuple(parts[part]), device_name(job))))
        return found

    def strays(self, tags: Sequence[str], known: Sequence[str]) -> list[tuple[str, int]]:
        """(id, part) of pending jobs carrying all of a run's tags that its record lacks."""
        return sorted(
            (job_id, part_of(job.tags or []))
            for job_id, job in listings_for(self.settings).pending().items()
            if job_id not in known and set(tags) <= set(job.tags or [])
        )

    def collect(self, job_ids: Sequence[str], first_job: str | None = None) -> list[JobOutcome]:
        """Pending jobs cost no request; each finished one its final state, then its QPU
        seconds or its error, and for an analysis its results (see runner.backends.ibm_collect).
        A target naming a device lists finished jobs of that device only."""
        device = None if self.target == "least_busy" else self.target
        return collect_jobs(self.settings, self._calibrations, job_ids, device, first_job)

    def cancel(self, job_ids: Sequence[str]) -> list[str]:
        """Cancel pending jobs; returns those already final (left alone). Other errors raise."""
        finished = []
        for job_id in job_ids:
            job = guard(self.settings, f"look up job {job_id}", partial(self.service.job, job_id))
            if not guard(self.settings, f"cancel job {job_id}", partial(_cancel, job)):
                finished.append(job_id)
        return finished

    def quota(self) -> tuple[float | None, str | None]:
        """(QPU seconds left on the instance when the service reports a limit, its plan id:
        "open" for the Open Plan, whose time is not billed) from one usage request."""
        usage = guard(self.settings, "read instance usage", self.service.usage) or {}
        plan_id = usage.get("plan_id")
        if usage.get("usage_limit_reached"):
            return 0.0, plan_id
        left = usage.get("usage_remaining_seconds")
        return (float(left) if left is not None else None), plan_id


def part_of(tags: Sequence[str]) -> int:
    """The batch part a job carries (qrun:part:<i>); a single-job run is part 0."""
    tag = next((t for t in tags if t.startswith("qrun:part:")), "qrun:part:0")
    return int(tag.rsplit(":", 1)[1])


def first_per_part(found: Sequence[tuple[int, JobRef]]) -> dict[int, JobRef]:
    """Each part's oldest job: a part found twice keeps its first (the other is surplus)."""
    by_part: dict[int, JobRef] = {}
    for part, ref in found:
        by_part.setdefault(part, ref)
    return by_part


def device_name(job: Any) -> str | None:
    """The name of the device a job runs on, from what the client already holds."""
    return getattr(job.backend(), "name", None)


def _backend_or_none(backend: IbmBackend, name: str) -> Any:
    from qiskit.providers.exceptions import QiskitBackendNotFoundError

    try:
        return backend.service.backend(name)
    except QiskitBackendNotFoundError:
        return None


def _cancel(job: Any) -> bool:
    """job.cancel(); False when the job is already final (the service answers 409)."""
    from qiskit_ibm_runtime.exceptions import RuntimeInvalidStateError

    try:
        job.cancel()
    except RuntimeInvalidStateError:
        return False
    return True


def available_backends(settings: IbmSettings) -> list[str]:
    """Names of the backends the instance can use (one configuration request per backend)."""
    listed = guard(settings, "list backends", lambda: service_for(settings).backends())
    return sorted(b.name for b in listed)


def unknown_backend_message(name: str, names: Sequence[str]) -> str:
    """'Unknown backend' with a did-you-mean hint and what is available."""
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return (
        f"Unknown backend '{name}'.{hint} Available to this instance: {', '.join(names)} "
        "(or least_busy, local:aer, local:fake_<device>)"
    )


def settings_from(config: Config) -> IbmSettings:
    """IBM settings for one invocation (one service shared by all IBM targets)."""
    limits = config.limits
    return IbmSettings(config.environ, limits.max_circuits_per_job, limits.stale_claim_minutes * 60)
