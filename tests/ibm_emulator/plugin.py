"""pytest fixtures: a running emulator with the client's environment pointed at it.

Register with ``pytest_plugins = ["tests.ibm_emulator.plugin"]`` in conftest.py, or import
the fixtures into a test module. Per-test configuration goes through indirect
parametrisation: ``@pytest.mark.parametrize("ibm_emulator", [{"noisy": True}],
indirect=True)``; ``make_ibm_emulator(**overrides)`` starts further ones.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .emulator import IBMRuntimeEmulator


def _point_client_at(emulator: IBMRuntimeEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in emulator.client_env().items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def make_ibm_emulator(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[..., IBMRuntimeEmulator]]:
    """Factory: start an emulator with config overrides; the last one started owns the env."""
    started: list[IBMRuntimeEmulator] = []

    def make(**overrides: Any) -> IBMRuntimeEmulator:
        emulator = IBMRuntimeEmulator(**overrides)
        started.append(emulator)
        _point_client_at(emulator, monkeypatch)
        return emulator

    yield make
    for emulator in started:
        emulator.close()


@pytest.fixture
def ibm_emulator(
    request: pytest.FixtureRequest, make_ibm_emulator: Callable[..., IBMRuntimeEmulator]
) -> IBMRuntimeEmulator:
    """A running emulator (config overrides via indirect parametrisation), env set."""
    overrides: dict[str, Any] = getattr(request, "param", None) or {}
    return make_ibm_emulator(**overrides)


class NetworkGuard:
    """Refuses connections and name look-ups outside loopback, remembering each attempt."""

    def __init__(self) -> None:
        self.attempts: list[str] = []
        self._getaddrinfo = socket.getaddrinfo
        self._connect = socket.socket.connect

    @staticmethod
    def _is_loopback(host: object) -> bool:
        if host in ("localhost", None):
            return True
        try:
            return ipaddress.ip_address(str(host)).is_loopback
        except ValueError:
            return False

    def getaddrinfo(self, host: Any, *args: Any, **kwargs: Any) -> Any:
        """Resolve loopback names only; anything else fails at once (no DNS stall)."""
        if not self._is_loopback(host):
            self.attempts.append(f"getaddrinfo {host}")
            raise socket.gaierror(socket.EAI_NONAME, f"outside network refused in tests: {host}")
        return self._getaddrinfo(host, *args, **kwargs)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Wrap ``socket.getaddrinfo`` and ``socket.socket.connect`` for this test."""
        guard = self

        def connect(sock: socket.socket, address: Any) -> None:
            host = address[0] if isinstance(address, tuple) else None
            if sock.family in (socket.AF_INET, socket.AF_INET6) and not guard._is_loopback(host):
                guard.attempts.append(f"connect {host}")
                raise ConnectionRefusedError(f"outside network refused in tests: {host}")
            guard._connect(sock, address)

        monkeypatch.setattr(socket, "getaddrinfo", self.getaddrinfo)
        monkeypatch.setattr(socket.socket, "connect", connect)


@pytest.fixture
def no_outside_network(monkeypatch: pytest.MonkeyPatch) -> NetworkGuard:
    """Fail fast on any non-loopback connection; assert ``guard.attempts == []`` at the end."""
    guard = NetworkGuard()
    guard.install(monkeypatch)
    return guard
