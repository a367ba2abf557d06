"""Holistic benchmark templates: quantum volume model circuits.

A QV circuit is random, so the seed is part of its identity: the same seed gives the same
circuit on every machine, which lets scheduled runs track one circuit's heavy-output
probability over time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from runner.templates.base import make_template, params_schema

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

MAX_SEED = 2**63 - 1  # TOML integers are signed 64-bit


def _build_quantum_volume(width: int, seed: int, depth: int | None = None) -> QuantumCircuit:
    """Haar-random SU(4) layers on random pairings, synthesised to u + cx on a register 'q'."""
    from qiskit import QuantumCircuit
    from qiskit.circuit.library import quantum_volume

    model = quantum_volume(width, width if depth is None else depth, seed=seed)
    circuit = QuantumCircuit(width)
    circuit.compose(model, range(width), inplace=True)
    return circuit.decompose(gates_to_decompose=["unitary"])


QUANTUM_VOLUME = make_template(
    name="quantum_volume",
    description="Seeded quantum volume model circuit (square by default), decomposed to u + cx.",
    schema=params_schema(
        "quantum_volume parameters",
        {
            "width": {
                "description": "Number of qubits.",
                "type": "integer",
                "minimum": 2,
                "maximum": 20,
                "default": 4,
            },
            "depth": {
                "description": "Number of random SU(4) layers (default: width, a square circuit).",
                "type": "integer",
                "minimum": 1,
                "maximum": 100,
            },
            "seed": {
                "description": "Seed of the random unitaries and pairings; same seed, same circuit.",
                "type": "integer",
                "minimum": 0,
                "maximum": MAX_SEED,
                "default": 0,
            },
        },
    ),
    builder=_build_quantum_volume,
    width_of=lambda params: int(params["width"]),
    analysis="quantum_volume",
)


def heavy_outputs(probabilities: Mapping[str, float]) -> set[str]:
    """Bitstrings whose ideal probability is above the median: the QV success criterion.

    ``probabilities`` must list every outcome, zeros included, or the median is wrong.
    """
    ordered = sorted(probabilities.values())
    mid = len(ordered) // 2
    median = ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    return {key for key, value in probabilities.items() if value > median}
