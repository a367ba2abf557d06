"""Seeded transpilation to a backend's ISA, shared by the local and IBM backends.

The seed is what makes the circuits previewed in a pull request the ones later submitted:
the same circuits, backend, optimization level and seed give byte-identical ISA circuits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from runner.backends.base import CircuitJob, TranspileInfo
from runner.errors import BackendError

if TYPE_CHECKING:
    from qiskit import QuantumCircuit
    from qiskit.quantum_info import SparsePauliOp

# Instructions that occupy a wire without doing anything to the qubit's state.
IDLE_OPS = frozenset({"barrier", "delay"})


def transpile_for(
    circuits: Sequence[CircuitJob],
    backend: Any,
    optimization_level: int,
    seed: int,
) -> tuple[list[QuantumCircuit], dict[str, TranspileInfo]]:
    """Transpile every circuit to `backend`'s ISA with a fixed seed; report what came out.

    Returns the ISA circuits in input order and a TranspileInfo per circuit id. A circuit
    wider than the device is rejected before the transpiler gives a less clear error.
    """
    from qiskit.transpiler import generate_preset_pass_manager

    width = backend.num_qubits
    for job in circuits:
        if job.circuit.num_qubits > width:
            raise BackendError(
                f"circuit '{job.circuit_id}' needs {job.circuit.num_qubits} qubits but backend "
                f"'{backend.name}' has {width}; choose a larger backend or a smaller circuit"
            )
    physical = getattr(backend, "coupling_map", None) is not None  # AerSimulator has none
    managers: dict[tuple[int, ...] | None, Any] = {}
    isa_circuits = []
    for job in circuits:
        layout = job.layout if physical else None
        if layout is not None and max(layout) >= width:
            raise BackendError(
                f"circuit '{job.circuit_id}' is pinned to physical qubit {max(layout)} but "
                f"backend '{backend.name}' has {width}; change the entry's layout"
            )
        if layout not in managers:
            managers[layout] = generate_preset_pass_manager(
                optimization_level=optimization_level,
                backend=backend,
                seed_transpiler=seed,
                initial_layout=list(layout) if layout is not None else None,
            )
        isa_circuits.append(managers[layout].run(quantize_delays(job.circuit, backend)))
    infos = {
        job.circuit_id: transpile_info(isa) for job, isa in zip(circuits, isa_circuits, strict=True)
    }
    return isa_circuits, infos


def quantize_delays(circuit: QuantumCircuit, backend: Any) -> QuantumCircuit:
    """Delays written in time units (the t1/t2 templates' microseconds) as whole device
    cycles: the nearest multiple of the device's timing alignment, in dt.

    The preset pass manager refuses an unscheduled circuit whose delays break the device's
    alignment (16 dt on many IBM devices); a device with no dt (AerSimulator) keeps them as
    written.
    The rounding is below 4 ns on current devices, far under the microsecond delays swept.
    """
    import math

    from qiskit.circuit import Delay

    target = getattr(backend, "target", None)
    dt = getattr(target, "dt", None)
    if not dt or not any(inst.operation.name == "delay" for inst in circuit.data):
        return circuit
    step = math.lcm(
        *(max(1, int(getattr(target, k, 1) or 1)) for k in ("granularity", "pulse_alignment",
                                                             "acquire_alignment"))
    )  # fmt: skip
    scale = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9, "ps": 1e-12}
    out = circuit.copy_empty_like()
    for inst in circuit.data:
        op = inst.operation
        if op.name == "delay" and op.unit in scale:
            cycles = round(float(op.duration) * scale[op.unit] / dt / step) * step
            op = Delay(int(cycles), unit="dt")
        out.append(op, inst.qubits, inst.clbits)
    return out


def transpile_info(isa_circuit: QuantumCircuit) -> TranspileInfo:
    """Depth, two-qubit gate count and the physical qubits the circuit really acts on."""
    used: set[int] = set()
    two_qubit = 0
    for instruction in isa_circuit.data:
        if instruction.operation.name in IDLE_OPS:
            continue
        qubits = [isa_circuit.find_bit(q).index for q in instruction.qubits]
        used.update(qubits)
        if len(qubits) == 2:
            two_qubit += 1
    return TranspileInfo(
        depth=isa_circuit.depth(),
        two_qubit_gates=two_qubit,
        physical_qubits=tuple(sorted(used)),
    )


def two_qubit_edges(isa_circuits: Sequence[QuantumCircuit]) -> tuple[tuple[int, int], ...]:
    """The directed physical edges on which the circuits apply two-qubit gates, sorted."""
    edges: set[tuple[int, int]] = set()
    for isa in isa_circuits:
        for instruction in isa.data:
            if instruction.operation.name in IDLE_OPS or len(instruction.qubits) != 2:
                continue
            first, second = (isa.find_bit(q).index for q in instruction.qubits)
            edges.add((first, second))
    return tuple(sorted(edges))


def apply_layout_to_observables(
    observables: tuple[str, ...], isa_circuit: QuantumCircuit
) -> list[SparsePauliOp]:
    """Map Pauli labels on the logical qubits onto the ISA circuit's physical qubits.

    Labels use Qiskit's order (rightmost character = qubit 0) and must be as wide as the
    circuit before transpilation.
    """
    from qiskit.quantum_info import SparsePauliOp

    layout = isa_circuit.layout
    positions = layout.final_index_layout() if layout is not None else None
    width = len(positions) if positions is not None else isa_circuit.num_qubits
    mapped = []
    for label in observables:
        if len(label) != width:
            raise BackendError(
                f"observable '{label}' has {len(label)} Pauli letters but circuit "
                f"'{isa_circuit.name}' has {width} qubits; write one letter per circuit qubit"
            )
        mapped.append(SparsePauliOp(label).apply_layout(positions, isa_circuit.num_qubits))
    return mapped
