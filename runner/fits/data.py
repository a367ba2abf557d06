"""What a run-level analysis reads: one entry's circuits (parameters and counts) and the
device calibration recorded when the run was submitted."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class EntryData:
    """All circuits of one [[circuits]] entry of one run, as stored in analysis.json."""

    entry: str
    template: str
    layout: tuple[int, ...] | None
    circuits: Sequence[Mapping[str, Any]]  # each: params, counts, shots
    calibration: Mapping[str, Any]

    def qubit_calibration(self, qubit: int) -> Mapping[str, Any]:
        """The reported calibration row of one physical qubit ({} when not recorded)."""
        rows = self.calibration.get("qubits") or ()
        return next((r for r in rows if r.get("qubit") == qubit), {})

    def edge_error(self, pair: Sequence[int]) -> float | None:
        """The reported two-qubit gate error on a pair of physical qubits (either direction)."""
        for row in self.calibration.get("two_qubit_gates") or ():
            if sorted(row.get("qubits", ())) == sorted(pair) and row.get("error") is not None:
                return float(row["error"])
        return None

    @property
    def device(self) -> str:
        return str(self.calibration.get("device") or "device")


def probability(counts: Mapping[str, int], bit: int, value: str = "1") -> tuple[int, int]:
    """(shots with qubit `bit` = value, total shots); bit 0 is the rightmost character."""
    total = sum(counts.values())
    hits = sum(n for key, n in counts.items() if key[len(key) - 1 - bit] == value)
    return hits, total
