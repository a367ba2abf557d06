"""Sessions under ``/sessions``: batch mode (and dedicated sessions when a test allows them).

IBM's Open Plan has no dedicated sessions, so by default only ``mode: "batch"`` is
accepted; ``Session(...)`` gets a 403 the way a plan without sessions would.
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

from .jobs import JobBook, iso, utc_now
from .wire import Reply, Request, error


class SessionBook:
    """Sessions by id plus their four endpoints."""

    def __init__(
        self, lock: threading.RLock, jobs: JobBook, modes: tuple[str, ...], backends: set[str]
    ) -> None:
        self._lock = lock
        self._jobs = jobs
        self._modes = modes
        self._backends = backends
        self.sessions: dict[str, dict[str, Any]] = {}

    def accepting(self, session_id: str) -> bool:
        """Whether ``POST /jobs`` may name this session."""
        with self._lock:
            session = self.sessions.get(session_id)
            return session is not None and bool(session["accepting_jobs"])

    def create(self, request: Request) -> Reply:
        """``POST /sessions``: modes outside the configured ones are refused (403)."""
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            return error(400, "Request body is not JSON")
        mode = body.get("mode", "dedicated")
        if mode not in self._modes:
            return error(403, f"Session mode {mode!r} is not available on this plan", 1352)
        if body.get("backend") not in self._backends:
            return error(400, f"Backend {body.get('backend')} is not available", 1216)
        session = {
            "id": uuid.uuid4().hex[:20],
            "backend_name": body["backend"],
            "mode": mode,
            "state": "open",
            "accepting_jobs": True,
            "max_ttl": body.get("max_ttl", 28800),
            "interactive_ttl": 60,
            "active_ttl": None,
            "elapsed_time": 0,
            "started_at": iso(utc_now()),
            "closed_at": None,
            "timestamps": [],
        }
        with self._lock:
            self.sessions[session["id"]] = session
        return Reply(200, dict(session))

    def get(self, request: Request, session_id: str) -> Reply:
        """``GET /sessions/{id}``."""
        with self._lock:
            session = self.sessions.get(session_id)
            if session is None:
                return error(404, f"Session {session_id} not found", 1218)
            return Reply(200, dict(session))

    def patch(self, request: Request, session_id: str) -> Reply:
        """``PATCH /sessions/{id}`` with ``{"accepting_jobs": false}`` (batch exit)."""
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            return error(400, "Request body is not JSON")
        with self._lock:
            session = self.sessions.get(session_id)
            if session is None:
                return error(404, f"Session {session_id} not found", 1218)
            if "accepting_jobs" in body:
                session["accepting_jobs"] = bool(body["accepting_jobs"])
        return Reply(204)

    def close(self, request: Request, session_id: str) -> Reply:
        """``DELETE /sessions/{id}/close``: stop accepting and cancel the pending jobs."""
        with self._lock:
            session = self.sessions.get(session_id)
            if session is None:
                return error(404, f"Session {session_id} not found", 1218)
            session.update(accepting_jobs=False, state="closed", closed_at=iso(utc_now()))
            for job in self._jobs.all():
                if job.session_id == session_id and job.pending:
                    self._jobs.cancel(job.id)
        return Reply(204)
