"""What is known about targets without importing qiskit: names and sizes of fake devices.

The fake devices' configuration files ship inside qiskit_ibm_runtime; reading them by
path (importlib.util.find_spec does not import the package) keeps `qrun validate` fast.
"""

from __future__ import annotations

import difflib
import importlib.util
import json
from functools import cache
from pathlib import Path

AER_MAX_QUBITS = 30  # statevector simulation beyond this does not fit in memory


@cache
def _fake_dir() -> Path | None:
    spec = importlib.util.find_spec("qiskit_ibm_runtime")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "fake_provider" / "backends"
    return path if path.is_dir() else None


@cache
def fake_devices() -> dict[str, tuple[str, int]]:
    """fake_<dir> -> (device name such as ibm_fez, number of qubits)."""
    root = _fake_dir()
    found: dict[str, tuple[str, int]] = {}
    if root is None:
        return found
    for conf in sorted(root.glob("*/conf_*.json")):
        data = json.loads(conf.read_text(encoding="utf-8"))
        found[f"fake_{conf.parent.name}"] = (data["backend_name"], int(data["n_qubits"]))
    return found


def local_targets() -> list[str]:
    """Every valid local target, for error messages."""
    return ["local:aer", *(f"local:{name}" for name in fake_devices())]


def fake_twin(target: str) -> str | None:
    """fake_fez for ibm_fez or local:fake_fez (a noisy local stand-in)."""
    if target.startswith("local:fake_"):
        name = target.removeprefix("local:")
        return name if name in fake_devices() else None
    for fake, (device, _) in fake_devices().items():
        if device == target:
            return fake
    return None


def target_qubits(target: str) -> int | None:
    """Size of the target when known offline; None for live IBM devices without a twin."""
    if target == "local:aer":
        return AER_MAX_QUBITS
    twin = fake_twin(target)
    return fake_devices()[twin][1] if twin else None


def unknown_local_target(target: str) -> str | None:
    """An error message when a local target does not exist, else None."""
    if target == "local:aer" or not target.startswith("local:") or fake_twin(target):
        return None
    valid = local_targets()
    close = difflib.get_close_matches(target, valid, n=1, cutoff=0.6)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return (
        f"unknown backend '{target}'.{hint} Valid local targets: local:aer, local:fake_<device> "
        f"({', '.join(valid[1:6])}, …)"
    )
