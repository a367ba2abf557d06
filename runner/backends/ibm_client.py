"""The IBM Quantum client seam: credentials read once from the environment, one
QiskitRuntimeService per invocation with bounded HTTP (runner/backends/ibm_http.py), and
every client call run through `guard`, which turns the client's many error shapes into one
clear BackendError without the token, and never repeats a job creation.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from runner.deadline import Deadline, DeadlineExceeded, seconds_from_env
from runner.endpoints import checked_url
from runner.errors import (
    BackendError,
    CredentialsError,
    Rejected,
    ServiceUnavailable,
    SubmissionDeferred,
    SubmitUncertain,
)

if TYPE_CHECKING:  # only for the annotation: ibm_collect imports this module
    from runner.backends.ibm_collect import JobListings

RETRY_ATTEMPTS = 4
RETRY_BASE_SECONDS = 0.5
RETRY_MAX_SECONDS = 30.0
T = TypeVar("T")


class IbmSettings:
    """IBM Quantum credentials, endpoint, timeouts and deadline, read once from the environment."""

    def __init__(
        self,
        environ: dict[str, str] | Any,
        max_circuits_per_job: int = 300,
        lease_seconds: float = 0.0,
    ) -> None:
        self.token = environ.get("IBM_QUANTUM_TOKEN", "").strip()
        self.instance = environ.get("IBM_QUANTUM_INSTANCE", "").strip() or None
        self.channel = environ.get("IBM_QUANTUM_CHANNEL", "").strip() or "ibm_quantum_platform"
        self.url = environ.get("IBM_QUANTUM_URL", "").strip() or None
        if self.url:  # the API key and bearer tokens go there: never in clear
            checked_url("IBM_QUANTUM_URL", self.url, CredentialsError)
        self.connect_timeout = seconds_from_env(environ, "QRUN_IBM_CONNECT_TIMEOUT", 10.0)
        self.read_timeout = seconds_from_env(environ, "QRUN_IBM_READ_TIMEOUT", 60.0)
        self.deadline = Deadline.from_env(environ, lease_seconds)  # ends before a claim lease
        self.max_circuits_per_job = max_circuits_per_job
        self.service: Any = None  # created on first use, then shared by every target
        self.unavailable: str | None = None  # set once the service is down: fail fast after
        self.queues: dict[str, int | None] = {}  # backend name -> queue length, this invocation
        self.listings: JobListings | None = None  # this pass's listings of qrun jobs

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
        raise CredentialsError(
            "IBM Quantum targets need credentials: set IBM_QUANTUM_TOKEN (an IBM "
            "Cloud API key) and IBM_QUANTUM_INSTANCE (the instance CRN)"
        )
    import logging

    from qiskit_ibm_runtime import QiskitRuntimeService

    from runner.backends.ibm_http import configure_http

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
    what = "connect to IBM Quantum"
    service = guard(settings, what, lambda: bounded(settings, what, QiskitRuntimeService, kwargs))
    configure_http(service, settings.connect_timeout, settings.read_timeout, settings.deadline)
    settings.service = service
    return service


def bounded(settings: IbmSettings, what: str, make: Callable[..., T], kwargs: dict[str, Any]) -> T:
    """The service constructor, waited for at most until the deadline: it talks to IBM Cloud
    before qrun can configure its sessions (the thread is abandoned, it posts no job)."""
    done: dict[str, Any] = {}

    def run() -> None:
        try:
            done["value"] = make(**kwargs)
        except BaseException as exc:  # handed to the caller's thread
            done["error"] = exc

    worker = threading.Thread(target=run, name="qrun-ibm-connect", daemon=True)
    worker.start()
    worker.join(max(settings.deadline.remaining(), 0.0))
    if worker.is_alive():
        raise DeadlineExceeded(settings.deadline.message(f"IBM Quantum: could not {what}"))
    if "error" in done:
        raise done["error"]
    return done["value"]  # type: ignore[no-any-return]


CREDENTIALS_HINT = (
    "check IBM_QUANTUM_TOKEN (an IBM Cloud API key), IBM_QUANTUM_INSTANCE (the instance CRN) "
    "and IBM_QUANTUM_CHANNEL"
)
LATER = "pending runs are picked up by the next apply"
# An answer cut off mid-body (requests ChunkedEncodingError, urllib3 IncompleteRead/ProtocolError)
GARBLED = r"Connection broken|IncompleteRead|InvalidChunkLength|ChunkedEncodingError"


def guard(settings: IbmSettings, what: str, call: Callable[[], T], create: bool = False) -> T:
    """Run a client call: clear errors, no token leaks, bounded by the deadline. Reads are
    retried where the client has no retry of its own; a job creation (`create`) never is: one
    not clearly answered (no answer, a garbled one, an error qrun does not recognise after the
    request went out) raises SubmitUncertain, and the caller looks the job up by its tags."""
    if settings.unavailable:
        raise ServiceUnavailable(f"IBM Quantum: could not {what}: {settings.unavailable}")
    started = time.monotonic()
    for attempt in range(RETRY_ATTEMPTS):
        settings.deadline.check(f"IBM Quantum: could not {what}")
        try:
            return call()
        except DeadlineExceeded:
            raise
        except Exception as exc:  # boundary: every client error is classified here
            kind, problem = classify(settings, exc)
        if settings.deadline.expired:
            raise DeadlineExceeded(
                settings.deadline.message(f"IBM Quantum: could not {what} ({problem})")
            ) from None
        if kind == "auth":
            raise CredentialsError(
                f"IBM Quantum refused the credentials while trying to {what} ({problem}): "
                + CREDENTIALS_HINT
            ) from None
        if kind == "rejected":
            raise Rejected(f"IBM Quantum rejected the request to {what}: {problem}") from None
        if kind == "cap":  # answered: no job was created
            raise SubmissionDeferred(
                f"IBM Quantum: could not {what}: the instance's pending-job cap is reached "
                f"({problem}); deferred to a later apply"
            ) from None
        if create:  # the request went out (an unrecognised error included): the job may exist
            raise SubmitUncertain(
                f"IBM Quantum: could not {what} ({problem}); the job may exist"
            ) from None
        if kind == "down":
            settings.unavailable = (
                f"the service is unavailable ({problem}, after the client's own retries); {LATER}"
            )
            raise ServiceUnavailable(
                f"IBM Quantum: could not {what}: {settings.unavailable}"
            ) from None
        if kind == "error":  # not a job creation: nothing can have been created
            raise BackendError(f"IBM Quantum: could not {what}: {problem}") from None
        delay = min(RETRY_BASE_SECONDS * 2**attempt, RETRY_MAX_SECONDS)
        if time.monotonic() - started + delay > min(
            RETRY_MAX_SECONDS, settings.deadline.remaining()
        ):
            break
        time.sleep(delay)
    raise ServiceUnavailable(
        f"IBM Quantum: could not {what} after {attempt + 1} attempts ({problem}); {LATER}"
    )


def summary(text: str) -> str:
    """One short line from a client error (urllib3 and API error texts are long and nested)."""
    retried = re.search(r"too many (\d{3}) error responses", text)
    if retried:
        return f"HTTP {retried.group(1)} on every retry"
    http = re.search(r"\b(\d{3}) (?:Client|Server) Error: ([A-Za-z ]+?)(?: for url|$)", text)
    if http:
        reason = re.search(r"\.\s+([^.]*?[^\s.][^.]*?), Error code: (\w+)\.", text)
        detail = f": {reason.group(1).strip()} (error code {reason.group(2)})" if reason else ""
        return f"HTTP {http.group(1)} {http.group(2)}{detail}"
    if re.search(r"Connection refused|NewConnectionError", text):
        return "connection refused"
    if re.search(GARBLED, text):
        return "the answer was cut off or unreadable"
    if re.search(r"RemoteDisconnected|Connection aborted|Connection reset|ProtocolError", text):
        return "connection dropped before an answer"
    if re.search(r"[Rr]ead timed out|ReadTimeout|deadline passed|timed out", text):
        return "no answer before the read timeout"
    line = next((s for s in text.strip(" '\"\n").splitlines() if s.strip()), "")
    return line.strip(" '\"")[:200] or "no details"


def status_code(exc: BaseException) -> int | None:
    """The HTTP status the service answered with, found anywhere in the exception chain
    (the client re-raises `from None`, which keeps the original as __context__)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        code = getattr(current, "status_code", None)
        if isinstance(code, int) and code > 0:
            return code
        response = getattr(current, "response", None)
        code = getattr(response, "status_code", None)
        if isinstance(code, int) and code > 0:
            return code
        current = current.__cause__ or current.__context__
    return None


def unreadable(exc: BaseException) -> bool:
    """The answer arrived but could not be parsed (a 200 body that is not JSON), anywhere in
    the exception chain: for a job creation, the job may exist."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, json.JSONDecodeError):
            return True
        current = current.__cause__ or current.__context__
    return False


def classify(settings: IbmSettings, exc: BaseException) -> tuple[str, str]:
    """(kind, one-line summary); kind is auth, cap (an Open Plan cap: error 3458, too many
    pending jobs), rejected (a 4xx answer), retry (not retried by the client, or a transport
    error: a dropped connection, an answer cut off or unreadable), down (past the client's
    retries), error."""
    from qiskit_ibm_runtime.exceptions import IBMAccountError, IBMNotAuthorizedError
    from requests.exceptions import RequestException

    text = settings.scrub(str(exc))
    if isinstance(exc, IBMNotAuthorizedError):
        return "auth", summary(text)
    if isinstance(exc, IBMAccountError):  # signing in (IAM, Global Search): why is the cause
        cause = exc.__cause__
        code = getattr(cause, "status_code", None)
        if isinstance(code, int) and (code == 429 or code >= 500):
            return "retry", f"HTTP {code} from IBM Cloud while signing in"
        if isinstance(cause, RequestException):  # IBM Cloud unreachable
            return "down", summary(settings.scrub(str(cause)))
        return "auth", summary(text)
    if re.search(r"\b3458\b", text):
        return "cap", "error 3458: too many pending jobs"
    if re.search(r"too many \d{3} error responses|Max retries exceeded", text):
        return "down", summary(text)
    code = status_code(exc)
    if code in (401, 403) or re.search(r"\b(401|403)\b|[Uu]nauthori[sz]ed|[Ff]orbidden", text):
        return "auth", summary(text)
    if code == 429 or (code is not None and code >= 500):
        return "retry", summary(text)
    if code is not None and 400 <= code < 500:
        return "rejected", summary(text)
    if re.search(r"\b(429|500|502|503|504)\b|Too Many Requests", text):
        return "retry", summary(text)
    if re.search(r"RemoteDisconnected|Connection aborted|Connection reset|timed out|Timeout", text):
        return "retry", summary(text)
    if re.search(GARBLED, text) or unreadable(exc):  # the request went out: the job may exist
        return "retry", "the answer was cut off or unreadable"
    return "error", summary(text)
