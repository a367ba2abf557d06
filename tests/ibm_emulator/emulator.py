"""The handle tests hold: start, configure, inspect and stop one emulated IBM Quantum."""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

from .api import RuntimeAPI
from .auth import TokenIssuer
from .backends import EmulatedBackend, load_backends
from .config import EmulatorConfig
from .faults import FaultInjector, RecordedRequest
from .jobs import EmulatedJob, JobBook
from .server import API_PREFIX, EmulatorHTTPServer


def emulator_url_resolver(
    url: str,
    instance: str,
    private_endpoint: bool | None = False,
    channel: str = "ibm_quantum_platform",
) -> str:
    """``url_resolver`` for QiskitRuntimeService: the Runtime API lives at ``url + /api/v1``."""
    return url.rstrip("/") + API_PREFIX


class IBMRuntimeEmulator:
    """A running emulator; use as a context manager or call ``close()``."""

    def __init__(self, config: EmulatorConfig | None = None, **overrides: Any) -> None:
        # Import the client on the constructing (main) thread: a first import inside a request
        # handler thread makes later transpilation in the main thread crash (seen with 0.51).
        import qiskit_ibm_runtime  # noqa: F401

        self.config = dataclasses.replace(config or EmulatorConfig(), **overrides)
        self.backends: dict[str, EmulatedBackend] = load_backends(self.config.backends)
        self._api = RuntimeAPI(self.config, self.backends)
        self._issuer = TokenIssuer(self.config.token)
        self._server = EmulatorHTTPServer(self._api, self._issuer)
        self._thread: threading.Thread | None = self._server.start()
        self.url = f"http://127.0.0.1:{self._server.server_port}"

    # --- identity -----------------------------------------------------------------------

    @property
    def crn(self) -> str:
        """The emulated instance's CRN (``IBM_QUANTUM_INSTANCE``)."""
        return self.config.crn

    @property
    def token(self) -> str:
        """The API key the emulator accepts (``IBM_QUANTUM_TOKEN``)."""
        return self.config.token

    @property
    def api_url(self) -> str:
        """Base of the Runtime API."""
        return self.url + API_PREFIX

    def client_env(self) -> dict[str, str]:
        """Environment a client process needs to talk only to this emulator."""
        return {
            "IAM_URL": self.url,
            "GLOBAL_SEARCH_URL": self.url,
            "GLOBAL_CATALOG_URL": self.url + "/catalog",
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
            "IBM_QUANTUM_TOKEN": self.token,
            "IBM_QUANTUM_INSTANCE": self.crn,
            "IBM_QUANTUM_CHANNEL": "ibm_quantum_platform",
            "IBM_QUANTUM_URL": self.url,
        }

    def service_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``QiskitRuntimeService`` in direct mode."""
        return {
            "channel": "ibm_quantum_platform",
            "token": self.token,
            "instance": self.crn,
            "url": self.url,
            "url_resolver": emulator_url_resolver,
        }

    def revoke_tokens(self) -> None:
        """Invalidate every issued access token (clients then get 401 until they re-login)."""
        self._issuer.revoke_all()

    # --- state the tests drive ----------------------------------------------------------

    @property
    def jobs(self) -> JobBook:
        """Jobs by id, with hold/release/force/fail_next."""
        return self._api.jobs

    @property
    def faults(self) -> FaultInjector:
        """``faults.add(method, path_regex, status, times=1, retry_after=None, delay=None)``."""
        return self._server.faults

    @property
    def submissions(self) -> int:
        """Jobs accepted by ``POST /jobs`` on devices so far (dry runs are counted apart)."""
        return sum(j.billed for j in self._api.jobs.all())

    @property
    def dry_runs(self) -> list[EmulatedJob]:
        """Jobs on mock twins (``mock_fez``): what ``run(..., dry_run=True)`` creates."""
        return [j for j in self._api.jobs.all() if not j.billed]

    @property
    def sessions(self) -> dict[str, dict[str, Any]]:
        """Sessions (batches) by id."""
        return self._api.sessions.sessions

    def retire(self, name: str) -> None:
        """Retire a device (service name, e.g. ``ibm_fez``): it leaves ``GET /backends`` and
        its documents answer 404, while its jobs stay retrievable, as on IBM Quantum."""
        with self._api.lock:
            self._api.retired[name] = self.backends.pop(name)

    def set_usage(self, consumed_seconds: int, limit_seconds: int | None) -> None:
        """Set the starting consumption and the limit (None = unlimited)."""
        self.config.usage_consumed_seconds = consumed_seconds
        self.config.usage_limit_seconds = limit_seconds

    def usage_consumed_seconds(self) -> int:
        """Starting consumption plus everything charged for final jobs."""
        return self._api.consumed_seconds()

    # --- recording ----------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request so far, in arrival order (a copy)."""
        return self._server.recorder.snapshot()

    def clear_requests(self) -> None:
        """Start recording afresh (e.g. once the service object is built)."""
        self._server.recorder.clear()

    def api_requests(self) -> list[tuple[str, str]]:
        """(method, path below /api/v1) of the Runtime API requests so far."""
        return [(r.method, r.api_path) for r in self.requests if r.api_path is not None]

    # --- lifetime -----------------------------------------------------------------------

    def close(self) -> None:
        """Stop serving and drop pending simulations; idempotent."""
        if self._thread is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self._thread = None
        self._api.close()

    def __enter__(self) -> IBMRuntimeEmulator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
