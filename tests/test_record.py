"""The raw result of record: registers joined as qiskit joins them, old stores read right."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner.analysis.ideal import ideal_probabilities
from runner.analysis.record import (
    circuit_registers,
    decode_record,
    encode_record,
    qasm_registers,
    sampler_entry,
)
from runner.analysis.stats import hellinger_fidelity
from runner.errors import StoreError
from runner.templates.qasm import dump_qasm, load_qasm

# These tests build results with SamplerV2 on purpose (records as earlier qrun stored them);
# the deprecation warning is attributed to this module, not to qrun's own code.
pytestmark = pytest.mark.filterwarnings(
    "ignore:The (Sampler|Estimator)V2 class is deprecated:DeprecationWarning"
)

CIRCUITS = Path(__file__).parent / "data" / "circuits"
OUT_OF_ORDER = ("bell_pairs_regs", "qaoa3_regs", "unused_register_no_measure", "ghz5_split_regs")


def _circuit(stem: str):  # type: ignore[no-untyped-def]
    qc = load_qasm((CIRCUITS / f"{stem}.qasm").read_text("utf-8"))
    if not any(inst.operation.name == "measure" for inst in qc.data):
        qc.measure_all()  # what runner.circuits.build_circuit does
    return qc


def _sampler_result(circuits: list, shots: int = 2000):  # type: ignore[no-untyped-def]
    from qiskit import transpile
    from qiskit_aer import AerSimulator
    from qiskit_ibm_runtime import SamplerV2

    sim = AerSimulator(seed_simulator=3)
    return SamplerV2(mode=sim).run([transpile(c, sim) for c in circuits], shots=shots).result()


def test_version1_store_reads_in_declaration_order() -> None:
    """A result stored before the record format (RuntimeEncoder, sorted keys) scores the
    fidelity the circuit deserves once the registers come from its request QASM."""
    from qiskit_ibm_runtime import RuntimeEncoder

    circuits = [_circuit(s) for s in OUT_OF_ORDER]
    text = json.dumps(_sampler_result(circuits), cls=RuntimeEncoder, sort_keys=True)
    registers = [qasm_registers(dump_qasm(c)) for c in circuits]
    assert registers == [circuit_registers(c) for c in circuits]
    assert registers[2] == [("mm", 2), ("meas", 3)]
    fixed = decode_record(text, "sampler", registers)
    blind = decode_record(text, "sampler")
    for circuit, pub, old in zip(circuits, fixed, blind, strict=True):
        ideal = ideal_probabilities(circuit)
        assert ideal is not None and pub.counts is not None and pub.note is None
        assert hellinger_fidelity(pub.counts, ideal) > 0.99
        assert old.note is not None and "alphabetically" in old.note
    # the numbers the issue saw, from joining alphabetically
    assert hellinger_fidelity(blind[0].counts or {}, ideal_probabilities(circuits[0]) or {}) < 0.9
    assert hellinger_fidelity(blind[2].counts or {}, ideal_probabilities(circuits[2]) or {}) < 0.5


def test_record_as_received_is_reordered_to_declaration() -> None:
    """An encoder that does not know the circuit (IBM, by job id) lists registers as received;
    decoding with the circuit's registers permutes every key."""
    circuits = [_circuit("bell_pairs_regs")]
    pub = _sampler_result(circuits)[0]
    bits = {name: pub.data[name] for name in sorted(pub.data.keys(), reverse=True)}
    text = encode_record("sampler", [sampler_entry(bits)])
    doc = json.loads(text)
    assert doc["format"] == "qrun.result" and doc["version"] == 2
    assert [r["name"] for r in doc["pubs"][0]["registers"]] == ["m_y", "m_x", "m_b", "m_a"]
    (decoded,) = decode_record(text, "sampler", [circuit_registers(circuits[0])])
    assert decoded.counts == dict(sorted(pub.join_data().get_counts().items()))
    assert decoded.shots == 2000


def test_record_errors_are_clear() -> None:
    text = encode_record("sampler", [{"shots": 1, "registers": [], "counts": {"0": 1}}])
    with pytest.raises(StoreError, match="not estimator"):
        decode_record(text, "estimator")
    future = json.dumps({"format": "qrun.result", "version": 99, "primitive": "sampler"})
    with pytest.raises(StoreError, match="upgrade qrun"):
        decode_record(future, "sampler")
