"""The noiseless reference each measured result is compared against.

A fidelity needs the distribution a perfect device would give. We get it exactly from
the statevector of the circuit with its final measurements removed, then read it out the
way the sampler does: one bit per classical bit, clbit 0 rightmost, so keys line up with
the counts. The statevector doubles in size per qubit, so wide circuits are skipped with a
note instead of stalling a report run. qiskit is imported only inside these functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from runner.errors import QrunError

if TYPE_CHECKING:
    from qiskit import QuantumCircuit
    from qiskit.quantum_info import Statevector

IDEAL_MAX_QUBITS = 20
"""Widest circuit simulated for the ideal: 2^20 amplitudes (16 MiB), about a second on Aer."""

_TINY = 1e-12  # probabilities below this are rounding noise of the simulation


NOT_UNITARY = "ideal not computed: mid-circuit measurement, reset or classical control"
DYNAMIC_ESTIMATOR = (
    "ideal not computed: the estimator ideal of a circuit with mid-circuit measurement, "
    "reset or classical control is not implemented"
)


def ideal_note(circuit: QuantumCircuit, max_qubits: int = IDEAL_MAX_QUBITS) -> str | None:
    """Why the estimator ideal is not computed for this circuit, or None when it can be."""
    if circuit.num_qubits > max_qubits:
        return _too_wide(circuit, max_qubits)
    return DYNAMIC_ESTIMATOR if _unitary_part(circuit) is None else None


def _too_wide(circuit: QuantumCircuit, max_qubits: int) -> str:
    return f"ideal not computed: {circuit.num_qubits} qubits > {max_qubits}"


def _unitary_part(circuit: QuantumCircuit) -> QuantumCircuit | None:
    """The circuit without final measurements, or None if anything non-unitary remains."""
    from qiskit.circuit import ControlFlowOp

    unitary_part = circuit.remove_final_measurements(inplace=False)
    for instruction in unitary_part.data:
        operation = instruction.operation
        if instruction.clbits or operation.name == "reset" or isinstance(operation, ControlFlowOp):
            return None  # a simulator would sample these: the "ideal" would be random
    # A delay is the identity on a noiseless device (T1/T2 sweeps are built of them), and
    # the statevector simulators refuse it: drop it from the ideal.
    unitary_part.data = [i for i in unitary_part.data if i.operation.name != "delay"]
    return unitary_part


def _statevector(unitary_part: QuantumCircuit) -> Statevector | None:
    """Aer's statevector (a Statevector subclass): ~30x faster than qiskit's at 20 qubits."""
    from qiskit.exceptions import QiskitError
    from qiskit_aer.quantum_info import AerStatevector

    try:
        return AerStatevector(unitary_part)
    except QiskitError:  # e.g. an opaque gate without a definition
        return None


def _final_measurements(circuit: QuantumCircuit) -> dict[int, int]:
    """clbit index → qubit index for every measurement (the last one into a clbit wins)."""
    mapping: dict[int, int] = {}
    for instruction in circuit.data:
        if instruction.operation.name == "measure":
            qubit = circuit.find_bit(instruction.qubits[0]).index
            clbit = circuit.find_bit(instruction.clbits[0]).index
            mapping[clbit] = qubit
    return mapping


def ideal_probabilities(
    circuit: QuantumCircuit, max_qubits: int = IDEAL_MAX_QUBITS
) -> dict[str, float] | None:
    """Noiseless outcome probabilities keyed like the sampler's counts, or None if skipped.

    Keys have one character per classical bit (clbit 0 rightmost; unmeasured clbits read
    0). A circuit without measurements is read out on all its qubits (qubit 0 rightmost).
    """
    return sampler_ideal(circuit, max_qubits)[0]


def sampler_ideal(
    circuit: QuantumCircuit, max_qubits: int = IDEAL_MAX_QUBITS
) -> tuple[dict[str, float] | None, str | None]:
    """ideal_probabilities and ideal_note at once, removing the final measurements once
    (that copy is most of the cost for small circuits)."""
    if circuit.num_qubits > max_qubits:
        return None, _too_wide(circuit, max_qubits)
    unitary_part = _unitary_part(circuit)
    if unitary_part is None:
        return _dynamic_ideal(circuit)
    state = _statevector(unitary_part)
    return (None if state is None else _read_out(circuit, state)), None


def _dynamic_ideal(circuit: QuantumCircuit) -> tuple[dict[str, float] | None, str | None]:
    """Branch over mid-circuit outcomes (runner.analysis.dynamic), or say why not."""
    from runner.analysis.dynamic import Unsupported, dynamic_probabilities

    try:
        return dynamic_probabilities(circuit), None
    except Unsupported as exc:
        return None, f"{NOT_UNITARY} ({exc})"


def _read_out(circuit: QuantumCircuit, state: Statevector) -> dict[str, float]:
    """The state's outcome probabilities keyed like the sampler reads `circuit`'s clbits."""
    import numpy as np

    mapping = _final_measurements(circuit)
    if not mapping:
        width = circuit.num_qubits
        mapping = {q: q for q in range(width)}
    else:
        width = circuit.num_clbits
    qubits = sorted(set(mapping.values()))
    position = {q: k for k, q in enumerate(qubits)}
    probs = state.probabilities(qargs=qubits)  # index bit k is qubits[k]
    index = np.flatnonzero(probs >= _TINY)
    labels = np.zeros_like(index)
    for clbit, qubit in mapping.items():
        labels |= ((index >> position[qubit]) & 1) << clbit
    out: dict[str, float] = {}
    for label, prob in zip(labels.tolist(), probs[index].tolist(), strict=True):
        key = format(label, f"0{width}b")
        out[key] = out.get(key, 0.0) + prob
    return out


def ideal_expectations(
    circuit: QuantumCircuit, observables: Sequence[str], max_qubits: int = IDEAL_MAX_QUBITS
) -> list[float] | None:
    """Noiseless ⟨O⟩ for each Pauli-string observable, or None above max_qubits."""
    from qiskit.quantum_info import SparsePauliOp

    for label in observables:
        if len(label) != circuit.num_qubits:
            raise QrunError(
                f"observable {label!r} has {len(label)} qubits but the circuit has "
                f"{circuit.num_qubits}; write one Pauli letter per qubit"
            )
    unitary_part = _unitary_part(circuit) if circuit.num_qubits <= max_qubits else None
    state = _statevector(unitary_part) if unitary_part is not None else None
    if state is None:
        return None
    return [float(state.expectation_value(SparsePauliOp(o)).real) for o in observables]
