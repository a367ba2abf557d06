"""Sweeps expand to one circuit per point, with stable readable ids like ghz[num_qubits=4]."""

from __future__ import annotations

import itertools
import json
from datetime import date, time
from typing import Any

from runner.spec.model import CircuitEntry

MAX_CIRCUITS = 300  # per spec; a larger experiment should be split into several specs


def format_value(value: Any) -> str:
    """Compact, stable rendering of a parameter value for circuit ids."""
    if isinstance(value, str):
        return value
    if type(value) is int:  # what json.dumps gives, without its encoder set-up per value
        return str(value)
    # TOML dates and times have no JSON form: show them as written (ISO 8601)
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=_iso)


def _iso(value: Any) -> str:
    if isinstance(value, date | time):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} has no circuit-id form")


def sweep_points(entry: CircuitEntry) -> list[dict[str, Any]]:
    """Every point of the entry's sweep (cartesian product, keys in sorted order)."""
    keys = sorted(entry.sweep)
    return [
        dict(zip(keys, combo, strict=True))
        for combo in itertools.product(*(entry.sweep[k] for k in keys))
    ]


def sweep_size(entry: CircuitEntry) -> int:
    """Number of circuits the entry expands to, without expanding it."""
    size = 1
    for values in entry.sweep.values():
        size *= len(values)
    return size


def circuit_id(entry: CircuitEntry, point: dict[str, Any]) -> str:
    """bell, or ghz[num_qubits=4] for a sweep point."""
    if not point:
        return entry.name
    inner = ",".join(f"{k}={format_value(v)}" for k, v in point.items())
    return f"{entry.name}[{inner}]"
