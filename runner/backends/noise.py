"""Device noise simulation restricted to the physical qubits a run actually uses.

A fake device's full noise model (156 qubits for fake_fez) costs seconds to build and
seconds more per job to hand to Aer, although a Bell circuit touches two qubits. The noise
model FakeBackendV2 builds is local: readout error per qubit, a depolarizing plus thermal
relaxation error per gate on that gate's qubits, and relaxation on delays. An instruction
never picks up noise from a qubit it does not act on, so keeping only the used qubits (and
the gates among them), renumbered 0..k-1, gives the same output distribution at a fraction
of the cost. The construction below mirrors `FakeBackendV2._get_noise_model_from_backend_v2`
(qiskit-ibm-runtime 0.51) on the restricted properties; tests compare both statistically.
(With qiskit-aer 0.18, which drops idle qubits itself, the two even give identical counts
for the same seed; nothing relies on that.)

This is FakeBackendV2's model, not `AerSimulator.from_backend`'s (which the executor
primitives' local mode builds from a fake device): from_backend reads the Target, whose
measure error is one number per qubit, so it makes readout symmetric, while the calibration
has P(1|0) and P(0|1) apart (fake_fez qubit 0: 0.0054 and 0.0176). Readout on IBM devices is
asymmetric (|1⟩ decays during the measurement), so qrun keeps the calibrated pair.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qiskit import QuantumCircuit
    from qiskit.quantum_info import SparsePauliOp
    from qiskit_aer import AerSimulator
    from qiskit_aer.noise import NoiseModel

_CACHE_SIZE = 16
_cache: dict[tuple[str, tuple[int, ...]], AerSimulator] = {}
_cache_lock = threading.Lock()


def active_qubits(
    isa_circuits: Sequence[QuantumCircuit], observables: Iterable[SparsePauliOp] = ()
) -> tuple[int, ...]:
    """Physical qubits touched by any instruction or any observable, sorted."""
    used: set[int] = set()
    for isa in isa_circuits:
        for instruction in isa.data:
            used.update(isa.find_bit(q).index for q in instruction.qubits)
    for observable in observables:
        support = observable.paulis.z.any(axis=0) | observable.paulis.x.any(axis=0)
        used.update(int(q) for q in support.nonzero()[0])
    return tuple(sorted(used))


def compact_circuit(isa_circuit: QuantumCircuit, qubits: Sequence[int]) -> QuantumCircuit:
    """The ISA circuit on a register of len(qubits) qubits; physical qubits[i] becomes i."""
    from qiskit.converters import circuit_to_dag, dag_to_circuit

    keep = set(qubits)
    dag = circuit_to_dag(isa_circuit)
    dropped = [bit for index, bit in enumerate(dag.qubits) if index not in keep]
    dag.remove_qubits(*dropped)  # raises DAGCircuitError if a dropped qubit is not idle
    return dag_to_circuit(dag)


def compact_observable(observable: SparsePauliOp, qubits: Sequence[int]) -> SparsePauliOp:
    """The observable restricted to `qubits` (its support must lie inside them)."""
    from qiskit.quantum_info import PauliList, SparsePauliOp

    paulis = observable.paulis
    columns = list(qubits)
    restricted = PauliList.from_symplectic(paulis.z[:, columns], paulis.x[:, columns], paulis.phase)
    return SparsePauliOp(restricted, observable.coeffs)


def reduced_noise_model(backend: Any, full: Any, qubits: Sequence[int]) -> NoiseModel:
    """The fake device's noise model on `qubits` only, renumbered 0..len(qubits)-1.

    `full` is the device's BackendProperties (passed in because parsing them is slow).
    """
    from qiskit.circuit import Delay
    from qiskit_aer.noise import NoiseModel
    from qiskit_aer.noise.device import basic_device_gate_errors, basic_device_readout_errors
    from qiskit_aer.noise.passes import RelaxationNoisePass
    from qiskit_ibm_runtime.models import BackendProperties, GateProperties
    from qiskit_ibm_runtime.models.exceptions import BackendPropertyError

    index = {physical: compact for compact, physical in enumerate(qubits)}
    properties = BackendProperties(
        backend_name=full.backend_name,
        backend_version=full.backend_version,
        last_update_date=full.last_update_date,
        qubits=[full.qubits[physical] for physical in qubits],
        gates=[
            GateProperties(
                qubits=[index[q] for q in gate.qubits], gate=gate.gate, parameters=gate.parameters
            )
            for gate in full.gates
            if all(q in index for q in gate.qubits)
        ],
        general=[],
    )
    # FakeDevice has basis_gates; FakeBackendV2 forwards the name to its configuration
    model = NoiseModel(basis_gates=backend.basis_gates)
    for compact, error in basic_device_readout_errors(properties):
        model.add_readout_error(error, compact)
    with warnings.catch_warnings():
        # Same filter as FakeBackendV2: Aer warns about gates with zero length/error.
        warnings.filterwarnings("ignore", module="qiskit_aer.noise.device.models")
        gate_errors = basic_device_gate_errors(properties, temperature=0)
    for name, compact, error in gate_errors:
        model.add_quantum_error(error, name, compact)
    try:
        # Temperature 0 means no excited-state population, which is the pass's default.
        relaxation = RelaxationNoisePass(
            t1s=[properties.t1(q) for q in range(len(qubits))],
            t2s=[properties.t2(q) for q in range(len(qubits))],
            dt=backend.dt,
            op_types=Delay,
        )
    except BackendPropertyError:
        pass  # no T1/T2 on this device: FakeBackendV2 adds no delay noise either
    else:
        model._custom_noise_passes.append(relaxation)  # what FakeBackendV2 does; no public API
    return model


def full_simulator(backend: Any, properties: Any) -> AerSimulator:
    """The same noise model on every qubit of the device (the reference the reduced one is
    tested against: slow on 156-qubit devices, never used by apply)."""
    from qiskit_aer import AerSimulator

    every = range(len(properties.qubits))
    return AerSimulator(noise_model=reduced_noise_model(backend, properties, every))


def reduced_simulator(backend: Any, properties: Any, qubits: Sequence[int]) -> AerSimulator:
    """An Aer simulator carrying the reduced noise model, cached per device and qubit set."""
    from qiskit_aer import AerSimulator

    key = (backend.name, tuple(qubits))
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached
    simulator = AerSimulator(noise_model=reduced_noise_model(backend, properties, qubits))
    with _cache_lock:
        if len(_cache) >= _CACHE_SIZE:
            _cache.pop(next(iter(_cache)))
        _cache[key] = simulator
    return simulator
