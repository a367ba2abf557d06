"""Fault injection and request recording, the two test-facing hooks of the emulator."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any

MAX_GATE_S = 120.0


@dataclass
class Fault:
    """Answer ``times`` matching requests with ``status`` (after ``delay`` seconds).

    ``status=None`` with a ``delay`` makes a slow but otherwise normal answer (a delayed
    POST is processed only after the delay). ``drop=True`` closes the connection instead of
    answering. ``after=True`` processes the request first and then loses the answer (the
    ``status`` or the drop replaces it): a job created whose id never reached the client.
    ``gate`` holds the request until the test sets the event: a POST delayed exactly until
    another runner has acted. ``truncate=True`` sends the headers and only half of the body,
    then closes the connection (an answer cut off); ``body`` replaces the answer's body with
    these bytes (an answer that does not parse).
    """

    method: str
    path_regex: re.Pattern[str]
    status: int | None
    times: int
    retry_after: float | None = None
    delay: float | None = None
    message: str | None = None
    drop: bool = False
    after: bool = False
    gate: threading.Event | None = None  # held until the test sets it (at most MAX_GATE_S)
    truncate: bool = False
    body: bytes | None = None
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        """Whether this fault applies to the request (``*`` matches any method)."""
        return (
            self.hits < self.times
            and self.method in ("*", method)
            and self.path_regex.search(path) is not None
        )


class FaultInjector:
    """Per-test list of faults; the first live match wins and is used up once."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(
        self,
        method: str,
        path_regex: str,
        status: int | None,
        times: int = 1,
        retry_after: float | None = None,
        delay: float | None = None,
        message: str | None = None,
        drop: bool = False,
        after: bool = False,
        gate: threading.Event | None = None,
        truncate: bool = False,
        body: bytes | None = None,
    ) -> Fault:
        """Register a fault; ``path_regex`` is searched in the path without the query."""
        fault = Fault(
            method=method.upper(),
            path_regex=re.compile(path_regex),
            status=status,
            times=times,
            retry_after=retry_after,
            delay=delay,
            message=message,
            drop=drop,
            after=after,
            gate=gate,
            truncate=truncate,
            body=body,
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, method: str, path: str) -> Fault | None:
        """Consume and return the first fault matching the request, if any."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.hits += 1
                    return fault
        return None

    def clear(self) -> None:
        """Drop every fault."""
        with self._lock:
            self._faults.clear()

    @property
    def pending(self) -> list[Fault]:
        """Faults not yet used up (a test can assert all of its faults fired)."""
        with self._lock:
            return [f for f in self._faults if f.hits < f.times]


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the emulator saw it."""

    method: str
    path: str
    query: dict[str, list[str]]
    host: str
    client: str
    headers: dict[str, str]
    body: bytes
    fields: dict[str, Any] = field(default_factory=dict)
    status: int = 0

    @property
    def api_path(self) -> str | None:
        """Path below ``/api/v1`` for Runtime API requests, else None."""
        prefix = "/api/v1"
        return self.path[len(prefix) :] if self.path.startswith(prefix + "/") else None


class Recorder:
    """Thread-safe append-only list of requests."""

    def __init__(self) -> None:
        self._items: list[RecordedRequest] = []
        self._lock = threading.Lock()

    def append(self, item: RecordedRequest) -> None:
        """Record one finished request."""
        with self._lock:
            self._items.append(item)

    def snapshot(self) -> list[RecordedRequest]:
        """A copy of everything recorded so far."""
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        """Forget everything recorded so far (e.g. after service construction)."""
        with self._lock:
            self._items.clear()
