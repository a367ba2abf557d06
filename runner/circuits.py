"""Build a spec's concrete circuits (templates and QASM files) and what analysis needs of them.

The run's request document, written to the store at submit time, carries each circuit's
template, parameters and noiseless ideal; collection in a later process reads it back,
so results are analysed against the circuits that ran even if the spec changed since.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runner.backends.base import CircuitJob
from runner.spec.model import ExpandedCircuit, Spec

if TYPE_CHECKING:
    from qiskit import QuantumCircuit


def build_circuit(spec: Spec, circuit: ExpandedCircuit) -> QuantumCircuit:
    """The logical circuit: measured for the sampler, unmeasured for the estimator."""
    measure = spec.execution.primitive == "sampler"
    if circuit.qasm is not None:
        from runner.templates.qasm import load_qasm

        text = (spec.path.parent / circuit.qasm).read_text(encoding="utf-8")
        qc = load_qasm(text)
        if not measure:
            qc = qc.remove_final_measurements(inplace=False)
        elif not any(inst.operation.name == "measure" for inst in qc.data):
            qc.measure_all()
        qc.name = circuit.circuit_id
        return qc
    from runner.templates.registry import get_template

    qc = get_template(circuit.template or "").build(measure=measure, **circuit.params)
    qc.name = circuit.circuit_id
    return qc


def build_jobs(spec: Spec) -> tuple[CircuitJob, ...]:
    """One CircuitJob (PUB) per expanded circuit, in spec order."""
    return tuple(
        CircuitJob(c.circuit_id, build_circuit(spec, c), c.observables, c.layout)
        for c in spec.circuits
    )


def request_document(spec: Spec, run_id: str, jobs: tuple[CircuitJob, ...]) -> dict[str, Any]:
    """What collection needs to analyse the run later: circuits, parameters, ideals."""
    from runner.analysis.ideal import ideal_expectations, ideal_note, sampler_ideal
    from runner.analysis.record import circuit_registers
    from runner.templates.qasm import dump_qasm

    limit = spec.analysis.ideal_max_qubits
    circuits = []
    for expanded, job in zip(spec.circuits, jobs, strict=True):
        entry: dict[str, Any] = {
            "circuit_id": expanded.circuit_id,
            "entry": expanded.entry,
            "layout": list(expanded.layout) if expanded.layout is not None else None,
            "template": expanded.template,
            "params": expanded.params,
            "qasm": dump_qasm(job.circuit),
            "observables": list(expanded.observables),
            "width": expanded.width,
            "registers": [[name, size] for name, size in circuit_registers(job.circuit)],
        }
        if spec.execution.primitive == "sampler":
            entry["ideal"], entry["ideal_note"] = sampler_ideal(job.circuit, limit)
        else:
            entry["ideal_note"] = ideal_note(job.circuit, limit)
            entry["ideal_evs"] = ideal_expectations(job.circuit, expanded.observables, limit)
        circuits.append(entry)
    return {
        "version": 1,
        "name": spec.name,
        "run_id": run_id,
        "run_hash": spec.run_hash,
        "target": spec.target,
        "primitive": spec.execution.primitive,
        "shots": spec.execution.shots,
        "optimization_level": spec.execution.optimization_level,
        "seed_transpiler": spec.execution.seed_transpiler,
        "circuits": circuits,
    }
