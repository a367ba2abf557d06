"""Characterisation templates: one circuit per point of a sweep, fitted together.

Each is a single point of a textbook protocol (a delay of a T1 curve, a sequence length of
randomized benchmarking); the entry's run-level analysis (``analysis=``, looked up in
runner.fits.registry) fits over all points. Pin the qubits with ``layout`` so the fit
characterises the physical qubits it names. Delays are written in microseconds; the
transpiler step rounds them to whole device cycles (runner.backends.transpile).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from runner.templates.base import make_template, params_schema

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

MAX_DELAY_US = 10_000.0
_DELAY = {
    "description": "Idle time in microseconds (rounded to whole device cycles).",
    "type": "number",
    "minimum": 0,
    "maximum": MAX_DELAY_US,
    "default": 0,
}


def _build_t1(delay_us: float) -> QuantumCircuit:
    """|1⟩, wait, measure: P(1) = A·exp(−t/T1) + B."""
    from qiskit import QuantumCircuit

    circuit = QuantumCircuit(1)
    circuit.x(0)
    circuit.delay(delay_us, 0, unit="us")
    return circuit


def _build_t2_ramsey(delay_us: float, detuning_mhz: float) -> QuantumCircuit:
    """√X, wait with a virtual detuning (a phase of 2π·f·t), √X: a damped cosine in P(1)."""
    from qiskit import QuantumCircuit

    circuit = QuantumCircuit(1)
    circuit.sx(0)
    circuit.delay(delay_us, 0, unit="us")
    circuit.rz(2 * math.pi * detuning_mhz * delay_us, 0)
    circuit.sx(0)
    return circuit


def _build_t2_echo(delay_us: float) -> QuantumCircuit:
    """Hahn echo √X, t/2, X, t/2, √X (= identity when ideal): P(1) rises to ½ as e^(−t/T2)."""
    from qiskit import QuantumCircuit

    circuit = QuantumCircuit(1)
    circuit.sx(0)
    circuit.delay(delay_us / 2, 0, unit="us")
    circuit.x(0)
    circuit.delay(delay_us / 2, 0, unit="us")
    circuit.sx(0)
    return circuit


def _build_readout(state: str) -> QuantumCircuit:
    """Prepare a basis state (Qiskit order: the rightmost character is qubit 0) and measure."""
    from qiskit import QuantumCircuit

    circuit = QuantumCircuit(len(state))
    for qubit, bit in enumerate(reversed(state)):
        if bit == "1":
            circuit.x(qubit)
    return circuit


def ghz_phase(num_qubits: int, phase_index: int) -> float:
    """The parity phase of a point: φ = (k−1)·π/(n+1) for phase_index k ≥ 1 (k = 0 is the
    population measurement); indices 1..2n+2 are the method's 2n+2 phases."""
    return (phase_index - 1) * math.pi / (num_qubits + 1)


def _build_ghz_parity(num_qubits: int, phase_index: int) -> QuantumCircuit:
    """GHZ by a CNOT chain, then (phase_index ≥ 1) on each qubit rz(−φ) and H, so that the
    measured parity is ⟨⊗(cos φ X + sin φ Y)⟩ = C·cos(nφ) for the state's coherence C."""
    from qiskit import QuantumCircuit

    circuit = QuantumCircuit(num_qubits)
    circuit.h(0)
    for qubit in range(num_qubits - 1):
        circuit.cx(qubit, qubit + 1)
    if phase_index >= 1:
        phi = ghz_phase(num_qubits, phase_index)
        for qubit in range(num_qubits):
            circuit.rz(-phi, qubit)
            circuit.h(qubit)
    return circuit


def _build_rb(num_qubits: int, length: int, seed: int) -> QuantumCircuit:
    """`length` seeded random Cliffords, then the one that inverts them: ideally |0…0⟩.
    Barriers keep the transpiler from merging the sequence into the identity."""
    import numpy as np
    from qiskit import QuantumCircuit
    from qiskit.quantum_info import Clifford, random_clifford

    rng = np.random.default_rng(seed)
    circuit = QuantumCircuit(num_qubits)
    total = Clifford(QuantumCircuit(num_qubits))
    qubits = list(range(num_qubits))
    for _ in range(length):
        element = random_clifford(num_qubits, seed=rng)
        circuit.compose(element.to_circuit(), qubits, inplace=True)
        circuit.barrier()
        total = total.compose(element)
    circuit.compose(total.adjoint().to_circuit(), qubits, inplace=True)
    return circuit


T1 = make_template(
    name="t1",
    description="T1 point: |1⟩, wait delay_us, measure; sweep delay_us, fitted to A·e^(−t/T1)+B.",
    schema=params_schema("t1 parameters", {"delay_us": _DELAY}),
    builder=_build_t1,
    width_of=lambda params: 1,
    analysis="t1",
)

T2_RAMSEY = make_template(
    name="t2_ramsey",
    description="Ramsey point: √X, wait with a virtual detuning, √X; fitted to a damped cosine.",
    schema=params_schema(
        "t2_ramsey parameters",
        {
            "delay_us": _DELAY,
            "detuning_mhz": {
                "description": "Virtual detuning in MHz: the phase 2π·f·t added before the "
                "second √X, so the fringes are visible (choose about 3-5 periods over the sweep).",
                "type": "number",
                "minimum": 0,
                "maximum": 10,
                "default": 0.02,
            },
        },
    ),
    builder=_build_t2_ramsey,
    width_of=lambda params: 1,
    analysis="t2_ramsey",
)

T2_ECHO = make_template(
    name="t2_echo",
    description="Hahn-echo point: √X, t/2, X, t/2, √X; sweep delay_us, fitted to A·e^(−t/T2)+B.",
    schema=params_schema("t2_echo parameters", {"delay_us": _DELAY}),
    builder=_build_t2_echo,
    width_of=lambda params: 1,
    analysis="t2_echo",
)

READOUT = make_template(
    name="readout",
    description="Readout point: prepare a basis state and measure; sweep state for the "
    "assignment matrix and readout error per qubit.",
    schema=params_schema(
        "readout parameters",
        {
            "state": {
                "description": "Basis state to prepare, one character per qubit, qubit 0 "
                "rightmost (sweep all of them: ['0', '1'] or ['00', '01', '10', '11']).",
                "type": "string",
                "pattern": "^[01]{1,8}$",
                "default": "0",
            }
        },
    ),
    builder=_build_readout,
    width_of=lambda params: len(str(params["state"])),
    analysis="readout",
)

GHZ_PARITY = make_template(
    name="ghz_parity",
    description="GHZ fidelity point: phase_index 0 measures populations, k ≥ 1 the parity at "
    "φ = (k−1)π/(n+1); sweep phase_index over 0..2n+2 for F = (P + C)/2.",
    schema=params_schema(
        "ghz_parity parameters",
        {
            "num_qubits": {
                "description": "Number of entangled qubits.",
                "type": "integer",
                "minimum": 2,
                "maximum": 20,
                "default": 3,
            },
            "phase_index": {
                "description": "0: population (Z basis); k ≥ 1: parity at φ = (k−1)π/(n+1).",
                "type": "integer",
                "minimum": 0,
                "maximum": 42,
                "default": 0,
            },
        },
    ),
    builder=_build_ghz_parity,
    width_of=lambda params: int(params["num_qubits"]),
    analysis="ghz_parity",
)

RB = make_template(
    name="rb",
    description="Randomized-benchmarking sequence: `length` seeded random Cliffords and their "
    "inverse on 1 or 2 qubits; sweep length and seed, fitted to A·α^m + B for the EPC.",
    schema=params_schema(
        "rb parameters",
        {
            "num_qubits": {
                "description": "1 or 2 qubits.",
                "type": "integer",
                "minimum": 1,
                "maximum": 2,
                "default": 1,
            },
            "length": {
                "description": "Number of random Cliffords before the inverting one.",
                "type": "integer",
                "minimum": 0,
                "maximum": 1000,
                "default": 1,
            },
            "seed": {
                "description": "Seed of the random sequence; sweep several per length.",
                "type": "integer",
                "minimum": 0,
                "maximum": 2**31 - 1,
                "default": 0,
            },
        },
    ),
    builder=_build_rb,
    width_of=lambda params: int(params["num_qubits"]),
    analysis="rb",
)
