"""Emulated devices, built from the fake backends shipped inside qiskit-ibm-runtime.

``/configuration`` and ``/properties`` serve the ``conf_*.json`` / ``props_*.json`` files
verbatim, so the client builds the same ``Target`` it would for the real device. The
device name comes from those files (``fake_fez`` serves as ``ibm_fez``). Each device also
has a mock twin (``mock_fez``), where the client sends ``dry_run`` jobs.

Like the real service, a device keeps a calibration history: the shipped properties are its
first snapshot, ``recalibrate`` adds newer ones, ``/properties`` serves the newest, and
``/properties?updated_before=<time>`` the newest one dated at or before that time.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
import threading
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any


def fake_backends_dir() -> Path:
    """Where qiskit-ibm-runtime keeps its fake backends, found without importing it."""
    spec = importlib.util.find_spec("qiskit_ibm_runtime")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("qiskit_ibm_runtime is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "fake_provider" / "backends"


@dataclass
class EmulatedBackend:
    """One device: its shipped JSON documents plus a mutable status the test may change."""

    fake_name: str  # "fake_fez": the local fake backend with this device's noise
    directory: Path
    status_name: str = "online"  # /backends list: online, offline, paused
    status_msg: str = "active"  # /status: active, maintenance, internal
    operational: bool = True
    base_queue_length: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @cached_property
    def configuration(self) -> dict[str, Any]:
        """The conf_*.json document (cached, served verbatim)."""
        return _load_one(self.directory, "conf_")

    @cached_property
    def snapshots(self) -> list[dict[str, Any]]:
        """Calibration snapshots, oldest first: the props_*.json document, then each
        ``recalibrate``."""
        return [_load_one(self.directory, "props_")]

    @property
    def properties(self) -> dict[str, Any]:
        """The newest calibration snapshot (at first the shipped document, verbatim)."""
        with self._lock:
            return self.snapshots[-1]

    def properties_before(self, moment: datetime) -> dict[str, Any] | None:
        """The newest snapshot dated at or before ``moment`` (None when all are newer)."""
        with self._lock:
            older = [s for s in self.snapshots if _dated(s["last_update_date"]) <= moment]
        return older[-1] if older else None

    def recalibrate(
        self, qubits: dict[int, dict[str, float]], at: datetime | None = None
    ) -> dict[str, Any]:
        """Add a snapshot dated ``at`` (default now): the newest one with these qubit
        properties changed, e.g. ``{0: {"T1": 12.5, "readout_error": 0.2}}`` (T1/T2 in µs)."""
        stamp = (at or datetime.now(UTC)).isoformat()
        with self._lock:
            snapshot = deepcopy(self.snapshots[-1])
            snapshot["last_update_date"] = stamp
            for qubit, values in qubits.items():
                for item in snapshot["qubits"][qubit]:
                    if item["name"] in values:
                        item.update(value=values[item["name"]], date=stamp)
            self.snapshots.append(snapshot)
        return snapshot

    @property
    def name(self) -> str:
        """The device name the service uses (from the configuration document)."""
        return str(self.configuration["backend_name"])

    @property
    def num_qubits(self) -> int:
        """Qubit count (for the backends list and job metrics)."""
        return int(self.configuration["n_qubits"])

    def list_entry(self, pending_jobs: int) -> dict[str, Any]:
        """The device's row in ``GET /backends``."""
        return {
            "name": self.name,
            "status": {"name": self.status_name, "reason": ""},
            "queue_length": self.base_queue_length + pending_jobs,
            "qubits": self.num_qubits,
            "processor_type": self.configuration.get("processor_type", {}),
            "clops": {"type": "hpm", "value": 5000},
            "performance_metrics": {},
            "wait_time_seconds": None,
        }

    def status_doc(self, pending_jobs: int) -> dict[str, Any]:
        """The device's ``GET /backends/{name}/status`` answer."""
        return {
            "state": self.operational,
            "status": self.status_msg,
            "message": "",
            "length_queue": self.base_queue_length + pending_jobs,
            "backend_version": str(self.configuration.get("backend_version", "0.0.0")),
        }

    @cached_property
    def fake_backend(self) -> Any:
        """The local FakeBackendV2 with this device's noise model (built on first use)."""
        module = importlib.import_module(
            f"qiskit_ibm_runtime.fake_provider.backends.{self.directory.name}"
        )
        with self._lock:
            for value in vars(module).values():
                if isinstance(value, type) and getattr(value, "backend_name", None) == (
                    self.fake_name
                ):
                    return value()
        raise LookupError(f"no fake backend class named {self.fake_name}")


def mock_name(device: str) -> str:
    """The dry-run twin's name, as the client derives it: ibm_fez -> mock_fez."""
    return re.sub(r"^[^_]+", "mock", device)


def as_mock(doc: dict[str, Any], device: str) -> dict[str, Any]:
    """A device document (list row or configuration) for its mock twin: same shape, the
    mock's name, and (in the listing) ``class: mock``, which is how the client tells them
    apart and why it lists them only when asked with include_mocks."""
    out = {**doc}
    if "backend_name" in out:
        out["backend_name"] = mock_name(device)
    else:
        out.update(name=mock_name(device), **{"class": "mock"})
    return out


def _dated(text: str) -> datetime:
    """A snapshot's last_update_date as an aware datetime."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _load_one(directory: Path, prefix: str) -> dict[str, Any]:
    matches = sorted(directory.glob(f"{prefix}*.json"))
    if not matches:
        raise FileNotFoundError(f"no {prefix}*.json in {directory}")
    return json.loads(matches[0].read_text(encoding="utf-8"))


def load_backends(names: tuple[str, ...]) -> dict[str, EmulatedBackend]:
    """Emulated devices keyed by service name; ``names`` are fake names (``fake_fez``)."""
    root = fake_backends_dir()
    result: dict[str, EmulatedBackend] = {}
    for fake_name in names:
        short = fake_name.removeprefix("fake_")
        directory = root / short
        if not directory.is_dir():
            valid = ", ".join(sorted(f"fake_{p.name}" for p in root.iterdir() if p.is_dir()))
            raise ValueError(f"unknown fake backend {fake_name!r}; valid: {valid}")
        backend = EmulatedBackend(fake_name=f"fake_{short}", directory=directory)
        result[backend.name] = backend
    return result
