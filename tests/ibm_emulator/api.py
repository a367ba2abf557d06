"""The Runtime REST API under ``/api/v1``: backends, jobs, sessions, usage.

Routes are a table of (method, path regex, handler); each handler takes the request and
returns a ``Reply``. Errors use IBM's envelope (``errors`` list) plus the ``error`` object
qiskit-ibm-runtime reads for its exception text.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from . import execution
from .backends import EmulatedBackend, as_mock, mock_name
from .config import EmulatorConfig
from .jobs import EmulatedJob, JobBook, new_job_id, utc_now
from .sessions import SessionBook
from .wire import Reply, Request, error


class RuntimeAPI:
    """Handlers of the emulated Runtime API; state lives here, guarded by one lock."""

    def __init__(self, config: EmulatorConfig, backends: dict[str, EmulatedBackend]) -> None:
        self.config = config
        self.backends = backends
        self.retired: dict[str, EmulatedBackend] = {}  # gone from /backends; jobs stay readable
        self.lock = threading.RLock()
        self.jobs = JobBook(self.lock)
        self.sessions = SessionBook(self.lock, self.jobs, config.session_modes, set(backends))
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ibm-emulator-job")
        self._aer: Any = None
        table: list[tuple[str, str, Callable[..., Reply]]] = [
            ("GET", r"/backends", self.list_backends),
            ("GET", r"/backends/([^/]+)/(configuration|properties|status)", self.backend_doc),
            ("GET", r"/instances/usage", self.usage),
            ("POST", r"/jobs", self.create_job),
            ("GET", r"/jobs", self.list_jobs),
            ("GET", r"/jobs/([^/]+)", self.get_job),
            ("DELETE", r"/jobs/([^/]+)", self.delete_job),
            ("GET", r"/jobs/([^/]+)/results", self.job_results),
            ("GET", r"/jobs/([^/]+)/metrics", self.job_metrics),
            ("GET", r"/jobs/([^/]+)/logs", self.job_logs),
            ("POST", r"/jobs/([^/]+)/cancel", self.cancel_job),
            ("PUT", r"/jobs/([^/]+)/tags", self.update_tags),
            ("POST", r"/sessions", self.sessions.create),
            ("GET", r"/sessions/([^/]+)", self.sessions.get),
            ("PATCH", r"/sessions/([^/]+)", self.sessions.patch),
            ("DELETE", r"/sessions/([^/]+)/close", self.sessions.close),
        ]
        self.routes = [(m, re.compile(f"^{p}$"), h) for m, p, h in table]

    def dispatch(self, request: Request) -> Reply:
        """Route one request; 404 for unknown paths, 405 for known paths with another verb."""
        known_path = False
        for method, pattern, handler in self.routes:
            match = pattern.match(request.path)
            if match:
                known_path = True
                if method == request.method:
                    return handler(request, *match.groups())
        if known_path:
            return error(405, f"{request.method} not allowed on {request.path}")
        return error(404, f"no route {request.path}")

    def close(self) -> None:
        """Stop the simulation worker (pending simulations are dropped)."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    # --- backends and usage -------------------------------------------------------------

    def _pending_on(self, backend: str) -> int:
        return sum(1 for j in self.jobs.all() if j.backend == backend and j.pending)

    def list_backends(self, request: Request) -> Reply:
        """``GET /backends``; with include_mocks, each device's mock twin too (dry runs)."""
        devices = [b.list_entry(self._pending_on(n)) for n, b in self.backends.items()]
        if request.arg("include_mocks") in ("True", "true"):
            devices += [
                as_mock(b.list_entry(self._pending_on(mock_name(n))), n)
                for n, b in self.backends.items()
            ]
        return Reply(200, {"devices": devices})

    def _device(self, name: str) -> EmulatedBackend | None:
        """A listed device, or the device behind a mock twin's name."""
        if name in self.backends:
            return self.backends[name]
        return next((b for n, b in self.backends.items() if mock_name(n) == name), None)

    def backend_doc(self, request: Request, name: str, which: str) -> Reply:
        """``GET /backends/{name}/configuration|properties|status``."""
        backend = self._device(name)
        if backend is None:
            return error(404, f"Backend {name} not found", 1216)
        if which == "configuration":
            if name != backend.name:
                return Reply(200, as_mock(backend.configuration, backend.name))
            return Reply(200, backend.configuration)
        if which == "properties":
            before = _when(request.arg("updated_before"))
            if before is None:
                return Reply(200, backend.properties)
            snapshot = backend.properties_before(before)
            if snapshot is None:
                return error(404, f"No properties of {name} before {before.isoformat()}", 1216)
            return Reply(200, snapshot)
        return Reply(200, backend.status_doc(self._pending_on(name)))

    def consumed_seconds(self) -> int:
        """Initial consumption plus what every final job was charged."""
        return self.config.usage_consumed_seconds + sum(j.charged_seconds for j in self.jobs.all())

    def limit_reached(self) -> bool:
        """True once consumption has met the configured limit."""
        limit = self.config.usage_limit_seconds
        return limit is not None and self.consumed_seconds() >= limit

    def usage(self, request: Request) -> Reply:
        """``GET /instances/usage``."""
        doc: dict[str, Any] = {
            "instance_id": self.config.crn,
            "plan_id": self.config.plan_id,
            "usage_consumed_seconds": self.consumed_seconds(),
            "usage_limit_reached": self.limit_reached(),
        }
        if self.config.usage_limit_seconds is not None:
            doc["usage_limit_seconds"] = self.config.usage_limit_seconds
        return Reply(200, doc)

    # --- jobs ---------------------------------------------------------------------------

    def create_job(self, request: Request) -> Reply:
        """``POST /jobs``: validate, decode with RuntimeDecoder, start the simulation."""
        try:
            payload = json.loads(request.body)
        except ValueError:
            return error(400, "Request body is not JSON")
        program_id = payload.get("program_id")
        backend = self._device(payload.get("backend", ""))
        if program_id not in execution.SUPPORTED_PROGRAMS:
            return error(404, f"Program {program_id} not found", 1211)
        if backend is None:
            return error(400, f"Backend {payload.get('backend')} is not available", 1216)
        cap = self.config.max_pending_jobs
        if cap is not None and sum(j.pending for j in self.jobs.all()) >= cap:
            return error(
                400,
                f"You have reached the limit of {cap} pending jobs. Please wait for a job to "
                "complete or cancel one before submitting anything new.",
                3458,
            )
        tags = payload.get("tags") or []
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            return error(400, "tags must be a list of strings")
        session_id = payload.get("session_id")
        if session_id is not None and not self.sessions.accepting(session_id):
            return error(400, f"Session {session_id} is closed or unknown", 1217)
        try:
            prepared = execution.prepare(program_id, request.body)
        except (KeyError, TypeError, ValueError) as exc:
            return error(400, f"Invalid job parameters: {exc}", 1400)
        job = EmulatedJob(
            id=new_job_id(),
            backend=payload["backend"],  # a device, or its mock twin (a dry run: not billed)
            billed=payload["backend"] == backend.name,
            program_id=program_id,
            tags=list(tags),
            session_id=session_id,
            private=bool(payload.get("private")),
            max_execution_time=payload.get("cost"),
            body=request.body,
            num_circuits=prepared.num_circuits,
            quantum_seconds=self.config.cost.quantum_seconds(
                prepared.num_circuits, prepared.total_shots
            ),
        )
        target = backend.fake_backend if self.config.noisy else self._noiseless()
        job.future = self._pool.submit(execution.run, prepared, target, self.config.seed)
        self.jobs.add(job)
        return Reply(200, {"id": job.id, "backend": job.backend, "session_id": session_id})

    def _noiseless(self) -> Any:
        with self.lock:
            if self._aer is None:
                self._aer = execution.noiseless_simulator()
            return self._aer

    def _job(self, job_id: str) -> EmulatedJob | None:
        return self.jobs.get(job_id)

    def get_job(self, request: Request, job_id: str) -> Reply:
        """``GET /jobs/{id}``: one poll of the job's life cycle."""
        if self._job(job_id) is None:
            return error(404, f"Job {job_id} not found", 1291)
        job = self.jobs.poll(
            job_id,
            self.config.queued_polls,
            self.config.running_polls,
            blocked=self.limit_reached(),
        )
        doc = job.to_api()
        if request.arg("exclude_params") != "true":
            doc["params"] = json.loads(job.body).get("params")
        return Reply(200, doc)

    def list_jobs(self, request: Request) -> Reply:
        """``GET /jobs`` with the client's filters; ``count`` ignores limit/offset."""
        wanted_tags = request.query.get("tags", [])
        pending = request.arg("pending")
        for job in self.jobs.all():  # a listing counts as one poll of each pending job it covers
            if job.pending and all(t in job.tags for t in wanted_tags):
                self.jobs.poll(
                    job.id,
                    self.config.queued_polls,
                    self.config.running_polls,
                    blocked=self.limit_reached(),
                )
        after, before = _when(request.arg("created_after")), _when(request.arg("created_before"))
        mocks = request.arg("include_mocks") in ("True", "true")
        selected = [
            j
            for j in self.jobs.all()
            if all(t in j.tags for t in wanted_tags)
            and (j.billed or mocks)  # dry-run jobs are listed only when asked for
            and (pending is None or j.pending == (pending == "true"))
            and request.arg("backend") in (None, j.backend)
            and request.arg("program") in (None, j.program_id)
            and request.arg("session_id") in (None, j.session_id)
            and (after is None or j.created >= after)
            and (before is None or j.created <= before)
        ]
        selected.sort(key=lambda j: j.created, reverse=request.arg("sort") != "ASC")
        offset = int(request.arg("offset") or 0)
        limit = min(int(request.arg("limit") or 10), 200)
        page = [j.to_api() for j in selected[offset : offset + limit]]
        return Reply(200, {"jobs": page, "count": len(selected), "limit": limit, "offset": offset})

    def delete_job(self, request: Request, job_id: str) -> Reply:
        """``DELETE /jobs/{id}``."""
        if not self.jobs.remove(job_id):
            return error(404, f"Job {job_id} not found", 1291)
        return Reply(204)

    def job_results(self, request: Request, job_id: str) -> Reply:
        """``GET /jobs/{id}/results``: the PrimitiveResult text, or the failure text."""
        job = self._job(job_id)
        if job is None:
            return error(404, f"Job {job_id} not found", 1291)
        if job.status == "Completed" and job.result_text is not None:
            return Reply(200, job.result_text.encode())
        if job.status in ("Failed", "Cancelled") and job.reason:
            text = f"Traceback (most recent call last):\nJobError: {job.reason}\n"
            return Reply(200, text.encode(), {"Content-Type": "text/plain"})
        return error(404, f"Results for job {job_id} are not available", 1292)

    def job_metrics(self, request: Request, job_id: str) -> Reply:
        """``GET /jobs/{id}/metrics``."""
        job = self._job(job_id)
        if job is None:
            return error(404, f"Job {job_id} not found", 1291)
        device = self._device(job.backend) or self.retired[job.backend]
        return Reply(200, job.metrics(device.num_qubits))

    def job_logs(self, request: Request, job_id: str) -> Reply:
        """``GET /jobs/{id}/logs`` (the emulator writes none)."""
        if self._job(job_id) is None:
            return error(404, f"Job {job_id} not found", 1291)
        return Reply(200, b"", {"Content-Type": "text/plain"})

    def cancel_job(self, request: Request, job_id: str) -> Reply:
        """``POST /jobs/{id}/cancel``: 204, or 409 for a job already final."""
        if self._job(job_id) is None:
            return error(404, f"Job {job_id} not found", 1291)
        if not self.jobs.cancel(job_id):
            return error(409, f"Job {job_id} is in a final state and cannot be cancelled", 1293)
        return Reply(204)

    def update_tags(self, request: Request, job_id: str) -> Reply:
        """``PUT /jobs/{id}/tags`` with ``{"tags": [...]}``."""
        job = self._job(job_id)
        if job is None:
            return error(404, f"Job {job_id} not found", 1291)
        try:
            tags = json.loads(request.body)["tags"]
        except (ValueError, KeyError, TypeError):
            return error(400, 'Body must be {"tags": [...]}')
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            return error(400, "tags must be a list of strings")
        with self.lock:
            job.tags = list(tags)
        return Reply(204)


def _when(text: str | None) -> datetime | None:
    """Parse a ``created_after``/``created_before``/``updated_before`` timestamp (ISO 8601)."""
    if not text:
        return None
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=utc_now().tzinfo)
