"""A characterisation run's lead number: its first fitted value, not the mean fidelity.

The mean Hellinger fidelity of T1 decay or parity-oscillation circuits measures nothing
(their ideal is a single point of a curve the device is meant to fall off), so a run with
run-level fits is headlined by the first fitted quantity of its first fitted entry, in spec
order, with its 95% interval and unit: "T1 (t1-q4) 181.6 [169.3, 193.8] µs".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

NAMES = {
    "t1_us": "T1",
    "t2_echo_us": "T2 echo",
    "t2_ramsey_us": "T2 Ramsey",
    "frequency_offset_mhz": "Frequency offset",
    "readout_error": "Readout error",
    "ghz_fidelity": "GHZ fidelity",
    "epc": "Error per Clifford",
    "mean_hop": "Mean heavy-output probability",
}
"""Human names of fitted quantities (machine name before any [qualifier])."""

KEPT = ("name", "label", "value", "low", "high", "stderr", "unit")


def human_name(name: str) -> str:
    """'t1_us' -> 'T1'; 'readout_error[q4]' -> 'Readout error q4'."""
    base, _, qualifier = name.partition("[")
    human = NAMES.get(base) or base.replace("_", " ").capitalize()
    qualifier = qualifier.rstrip("]")
    return f"{human}{' ' + qualifier if qualifier else ''}"


def label(name: str, entry: str) -> str:
    """'t1_us' of entry t1-q4 -> 'T1 (t1-q4)'; 'ghz_fidelity[n=4]' -> 'GHZ fidelity n=4 (ghz)'."""
    return f"{human_name(name)} ({entry})"


def lead_metric(
    entries: Sequence[Mapping[str, Any]], circuits: Sequence[Mapping[str, Any]]
) -> dict[str, Any] | None:
    """The first fitted value (with a value) of the entries, ordered as their circuits
    appear in the run; None when no entry has one (the mean fidelity stays the headline)."""
    order: dict[str, int] = {}
    for n, circuit in enumerate(circuits):
        entry = str(circuit.get("entry") or str(circuit.get("circuit_id", "")).split("[", 1)[0])
        order.setdefault(entry, n)
    for result in sorted(entries, key=lambda e: order.get(str(e["entry"]), len(order))):
        for metric in result.get("metrics") or ():
            if metric.get("value") is not None:
                found = {k: metric.get(k) for k in KEPT if metric.get(k) not in (None, "")}
                return {**found, "label": label(str(metric["name"]), str(result["entry"])),
                        "higher_is_better": metric.get("higher_is_better")}  # fmt: skip
    return None
