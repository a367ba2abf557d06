"""The client's HTTP sessions, configured through public objects: requests' `Session.mount`
with an `HTTPAdapter` carrying a urllib3 `Retry`, and the IAM token manager's documented
`http_config`. No client code is patched.

Why: qiskit-ibm-runtime mounts a Retry that re-sends `POST /jobs` on 5xx (a second paid job
when the first was created and only its answer was lost) and sends no read timeout (a
lookup that never answers hangs for ever). Here no POST is retried except on a connection
that was never made (nothing was sent), reads (GET, PUT, DELETE) keep bounded retries, and
every request gets a connect and a read timeout, cut to what is left of the deadline.
"""

from __future__ import annotations

from typing import Any

from requests import PreparedRequest, Response
from requests.adapters import HTTPAdapter
from requests.exceptions import Timeout
from urllib3.util.retry import Retry

from runner.deadline import Deadline
from runner.errors import BackendError

STATUS_RETRIED = (500, 502, 503, 504, 520, 521, 522, 524)  # idempotent methods only
MAX_RETRY_AFTER_SECONDS = 30.0


class CappedRetry(Retry):
    """urllib3's Retry (POST and PATCH are not in its allowed methods: never re-sent after
    the request went out), with Retry-After honoured only up to a cap."""

    def get_retry_after(self, response: Any) -> float | None:
        value = super().get_retry_after(response)
        return None if value is None else min(value, MAX_RETRY_AFTER_SECONDS)


def retry_policy() -> Retry:
    return CappedRetry(
        total=5,
        connect=3,  # a connection never made sent nothing: safe for POST too
        # urllib3 re-sends read errors only for idempotent methods, but "other" errors (an
        # SSLError while the answer is read) whatever the method: a POST may have been
        # processed, so none of those is retried
        other=0,
        backoff_factor=0.5,
        status_forcelist=STATUS_RETRIED,
        respect_retry_after_header=True,
    )


class BoundedAdapter(HTTPAdapter):
    """Every request gets (connect, read) timeouts no longer than what the deadline leaves."""

    def __init__(self, connect: float, read: float, deadline: Deadline) -> None:
        super().__init__(max_retries=retry_policy())
        self.connect, self.read, self.deadline = connect, read, deadline

    def send(
        self,
        request: PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float | None, float | None] | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: dict[str, str] | None = None,
    ) -> Response:
        left = self.deadline.remaining()
        if left <= 0:
            raise Timeout(f"qrun's deadline passed before {request.method} {request.path_url}")
        bounded = (min(self.connect, left), min(self.read, left))
        return super().send(request, stream, bounded, verify, cert, proxies)


def runtime_sessions(service: Any) -> list[Any]:
    """The requests Session of each RuntimeClient the service holds (one per instance).

    The service keeps its clients in attributes it does not document; qrun only reads them
    (tests/test_ibm_contract.py pins the shape), and fails loudly if they moved."""
    clients = [getattr(service, "_active_api_client", None)]
    clients += list((getattr(service, "_api_clients", None) or {}).values())
    sessions = {id(s): s for c in clients if (s := getattr(c, "_session", None)) is not None}
    if not sessions:
        raise BackendError(
            "this qiskit-ibm-runtime keeps its HTTP session elsewhere: qrun cannot turn off its "
            "automatic retry of job creation; install the version pinned in pyproject.toml"
        )
    return list(sessions.values())


def configure_http(service: Any, connect: float, read: float, deadline: Deadline) -> None:
    """Mount the bounded adapter on every session and give the IAM token requests timeouts."""
    for session in runtime_sessions(service):
        adapter = BoundedAdapter(connect, read, deadline)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        token_manager = getattr(session.auth, "tm", None)
        if token_manager is not None:
            token_manager.http_config = {**token_manager.http_config, "timeout": (connect, read)}
