"""The IBM Quantum client seam: credentials read once from the environment, one
QiskitRuntimeService per invocation, and every client call run through `guard`, which
turns the client's many error shapes into one clear BackendError without the token.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any, TypeVar

from runner.endpoints import checked_url
from runner.errors import BackendError, CredentialsError, ServiceUnavailable

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
        if self.url:  # the API key and bearer tokens go there: never in clear
            checked_url("IBM_QUANTUM_URL", self.url, CredentialsError)
        self.max_circuits_per_job = max_circuits_per_job
        self.service: Any = None  # created on first use, then shared by every target
        self.unavailable: str | None = None  # set once the service is down: fail fast after
        self.queues: dict[str, int | None] = {}  # backend name -> queue length, this invocation

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
    settings.service = guard(
        settings, "connect to IBM Quantum", lambda: QiskitRuntimeService(**kwargs)
    )
    return settings.service


CREDENTIALS_HINT = (
    "check IBM_QUANTUM_TOKEN (an IBM Cloud API key), IBM_QUANTUM_INSTANCE (the instance CRN) "
    "and IBM_QUANTUM_CHANNEL"
)


def guard(settings: IbmSettings, what: str, call: Callable[[], T]) -> T:
    """Run a client call: clear errors, no token leaks, and retries only where the client
    has none (it already retries 5xx five times with backoff and honours Retry-After)."""
    if settings.unavailable:
        raise ServiceUnavailable(f"IBM Quantum: could not {what}: {settings.unavailable}")
    started = time.monotonic()
    for attempt in range(RETRY_ATTEMPTS):
        try:
            return call()
        except Exception as exc:  # boundary: every client error is classified here
            kind, problem = classify(settings, exc)
        if kind == "auth":
            raise CredentialsError(
                f"IBM Quantum refused the credentials while trying to {what} ({problem}): "
                + CREDENTIALS_HINT
            ) from None
        if kind == "down":
            settings.unavailable = (
                f"the service is unavailable ({problem}, after the client's own retries); "
                "pending runs are picked up by the next apply"
            )
            raise ServiceUnavailable(
                f"IBM Quantum: could not {what}: {settings.unavailable}"
            ) from None
        if kind == "error":
            raise BackendError(f"IBM Quantum: could not {what}: {problem}") from None
        delay = min(RETRY_BASE_SECONDS * 2**attempt, RETRY_MAX_SECONDS)
        if time.monotonic() - started + delay > RETRY_MAX_SECONDS:
            break
        time.sleep(delay)
    raise ServiceUnavailable(
        f"IBM Quantum: could not {what} after {attempt + 1} attempts ({problem}); "
        "pending runs are picked up by the next apply"
    )


def summary(text: str) -> str:
    """One short line from a client error (urllib3 and API error texts are long and nested)."""
    retried = re.search(r"too many (\d{3}) error responses", text)
    if retried:
        return f"HTTP {retried.group(1)} on every retry"
    http = re.search(r"\b(\d{3}) (?:Client|Server) Error: ([A-Za-z ]+?)(?: for url|$)", text)
    if http:
        return f"HTTP {http.group(1)} {http.group(2)}"
    if re.search(r"Connection refused|NewConnectionError|RemoteDisconnected", text):
        return "connection refused"
    line = next((s for s in text.strip(" '\"\n").splitlines() if s.strip()), "")
    return line.strip(" '\"")[:200] or "no details"


def classify(settings: IbmSettings, exc: BaseException) -> tuple[str, str]:
    """(kind, one-line summary); kind is auth, retry (not retried by the client), down, error."""
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
    if re.search(r"too many \d{3} error responses|Max retries exceeded", text):
        return "down", summary(text)
    if re.search(r"\b(401|403)\b|[Uu]nauthori[sz]ed|[Ff]orbidden", text):
        return "auth", summary(text)
    if re.search(r"\b(429|500|502|503|504)\b|Too Many Requests", text):
        return "retry", summary(text)
    return "error", summary(text)
