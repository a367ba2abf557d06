"""Textbook state-preparation templates: Bell pairs, GHZ states and the quantum Fourier transform.

Their ideal outputs are known in closed form, which makes them the calibration workhorses:
a fidelity drop on these is hardware drift, not an algorithm question.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from runner.templates.base import make_template, params_schema

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

BELL_VARIANTS = ("phi+", "phi-", "psi+", "psi-")


def _build_bell(variant: str) -> QuantumCircuit:
    """|Φ±⟩ = (|00⟩ ± |11⟩)/√2 and |Ψ±⟩ = (|01⟩ ± |10⟩)/√2, up to a global phase."""
    from qiskit import QuantumCircuit

    circuit = QuantumCircuit(2)
    circuit.h(0)
    if variant.endswith("-"):
        circuit.z(0)
    circuit.cx(0, 1)
    if variant.startswith("psi"):
        circuit.x(1)
    return circuit


BELL = make_template(
    name="bell",
    description="Two-qubit Bell state (phi+, phi-, psi+ or psi-).",
    schema=params_schema(
        "bell parameters",
        {
            "variant": {
                "description": "Which Bell state: phi± = (|00⟩ ± |11⟩)/√2, psi± = (|01⟩ ± |10⟩)/√2.",
                "type": "string",
                "enum": list(BELL_VARIANTS),
                "default": "phi+",
            }
        },
    ),
    builder=_build_bell,
    width_of=lambda params: 2,
)


def _build_ghz(num_qubits: int) -> QuantumCircuit:
    """H on qubit 0, then a CNOT chain: nearest-neighbour, so it maps onto heavy-hex lines."""
    from qiskit import QuantumCircuit

    circuit = QuantumCircuit(num_qubits)
    circuit.h(0)
    for qubit in range(num_qubits - 1):
        circuit.cx(qubit, qubit + 1)
    return circuit


GHZ = make_template(
    name="ghz",
    description="n-qubit GHZ state (|0…0⟩ + |1…1⟩)/√2 prepared by a CNOT chain.",
    schema=params_schema(
        "ghz parameters",
        {
            "num_qubits": {
                "description": "Number of entangled qubits.",
                "type": "integer",
                "minimum": 2,
                "maximum": 127,
                "default": 3,
            }
        },
    ),
    builder=_build_ghz,
    width_of=lambda params: int(params["num_qubits"]),
)


def _check_qft(params: Mapping[str, Any]) -> list[str]:
    """The basis state must fit in the register."""
    size = 2 ** params["num_qubits"]
    if params["initial_state"] >= size:
        return [
            f"initial_state: {params['initial_state']} does not fit in "
            f"{params['num_qubits']} qubit(s); use a value below {size}"
        ]
    return []


def _build_qft(num_qubits: int, initial_state: int, inverse: bool) -> QuantumCircuit:
    """Prepare |initial_state⟩ (bit k on qubit k), then apply the (inverse) QFT with swaps.

    QFTGate is decomposed to h/cp/swap so the circuit exports to OpenQASM 2 and transpiles
    without a synthesis plugin.
    """
    from qiskit import QuantumCircuit
    from qiskit.circuit.library import QFTGate

    circuit = QuantumCircuit(num_qubits)
    for qubit in range(num_qubits):
        if (initial_state >> qubit) & 1:
            circuit.x(qubit)
    transform = QFTGate(num_qubits)
    circuit.append(transform.inverse() if inverse else transform, range(num_qubits))
    return circuit.decompose(gates_to_decompose=["qft", "qft_dg"])


QFT = make_template(
    name="qft",
    description="Quantum Fourier transform (or its inverse) applied to a computational basis state.",
    schema=params_schema(
        "qft parameters",
        {
            "num_qubits": {
                "description": "Register size.",
                "type": "integer",
                "minimum": 1,
                "maximum": 30,
                "default": 3,
            },
            "initial_state": {
                "description": "Basis state prepared before the transform, as an integer "
                "(bit k of the value sets qubit k); must be below 2**num_qubits.",
                "type": "integer",
                "minimum": 0,
                "default": 0,
            },
            "inverse": {
                "description": "Apply the inverse QFT instead of the QFT.",
                "type": "boolean",
                "default": False,
            },
        },
    ),
    builder=_build_qft,
    width_of=lambda params: int(params["num_qubits"]),
    check_params=_check_qft,
)
