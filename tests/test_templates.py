"""The circuit template library and OpenQASM I/O, checked against exact statevector physics."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from jsonschema import Draft202012Validator
from qiskit import QuantumCircuit
from qiskit.circuit.library import CXGate, HGate
from qiskit.quantum_info import Operator, Statevector

from runner.errors import QrunError
from runner.templates.base import TemplateError
from runner.templates.benchmarks import heavy_outputs
from runner.templates.qasm import QasmError, dump_qasm, load_qasm, qasm_error, qasm_version
from runner.templates.registry import TEMPLATES, describe_templates, get_template
from runner.templates.variational import entangling_pairs, qaoa_schedule
from tests.test_spec_identity import QASM as QASM2_BELL

ROOT = Path(__file__).resolve().parents[1]

# Parameter points per template: (params, expected width).
WIDTH_CASES = [
    ("bell", {}, 2),
    ("bell", {"variant": "psi-"}, 2),
    ("ghz", {}, 3),
    ("ghz", {"num_qubits": 2}, 2),
    ("ghz", {"num_qubits": 9}, 9),
    ("qft", {}, 3),
    ("qft", {"num_qubits": 1}, 1),
    ("qft", {"num_qubits": 5, "initial_state": 31, "inverse": True}, 5),
    ("qaoa_maxcut", {}, 4),
    ("qaoa_maxcut", {"edges": [[0, 5]]}, 6),
    ("qaoa_maxcut", {"edges": [[2, 1, 0.5], [1, 3]], "p": 2}, 4),
    ("vqe_ansatz", {}, 4),
    ("vqe_ansatz", {"num_qubits": 1, "layers": 1}, 1),
    ("vqe_ansatz", {"num_qubits": 6, "entanglement": "full", "rotation_blocks": ["rx"]}, 6),
    ("quantum_volume", {}, 4),
    ("quantum_volume", {"width": 2, "depth": 1}, 2),
    ("quantum_volume", {"width": 7, "seed": 11}, 7),
]


def probabilities(circuit: QuantumCircuit) -> dict[str, float]:
    """Exact outcome probabilities, with numerically-zero entries dropped."""
    probs = Statevector(circuit).probabilities_dict()
    return {key: value for key, value in probs.items() if value > 1e-12}


@pytest.mark.parametrize("name", list(TEMPLATES))
def test_schema_is_valid_2020_12_and_defaults_validate(name):
    template = TEMPLATES[name]
    schema = template.params_schema
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["additionalProperties"] is False
    for key, prop in schema["properties"].items():
        assert prop.get("description"), f"{name}.{key} has no description"
    Draft202012Validator(schema).validate(template.defaults())
    assert template.validate({}) == []
    assert template.description and "\n" not in template.description


def test_registry_lists_every_template_in_order():
    assert list(TEMPLATES) == [
        "bell",
        "ghz",
        "qft",
        "qaoa_maxcut",
        "vqe_ansatz",
        "quantum_volume",
        "t1",
        "t2_ramsey",
        "t2_echo",
        "readout",
        "ghz_parity",
        "rb",
    ]
    assert [name for name, _ in describe_templates()] == list(TEMPLATES)
    assert all(TEMPLATES[name].name == name for name in TEMPLATES)


@pytest.mark.parametrize(("name", "params", "width"), WIDTH_CASES)
def test_width_agrees_with_built_circuit(name, params, width):
    template = TEMPLATES[name]
    assert template.width(params) == width
    assert template.build(measure=False, **params).num_qubits == width
    measured = template.build(**params)
    assert measured.num_qubits == width
    assert [reg.name for reg in measured.cregs] == ["meas"]
    assert measured.count_ops()["measure"] == width


@pytest.mark.parametrize(("name", "params", "width"), WIDTH_CASES)
def test_build_is_deterministic_and_unmeasured_on_request(name, params, width):
    template = TEMPLATES[name]
    first = template.build(measure=False, **params)
    assert first == template.build(measure=False, **params)
    assert dump_qasm(first) == dump_qasm(template.build(measure=False, **params))
    assert "measure" not in first.count_ops()
    assert first.num_clbits == 0
    assert not first.parameters


def test_defaults_are_fresh_copies():
    template = TEMPLATES["qaoa_maxcut"]
    template.defaults()["edges"].append([7, 8])
    assert template.width({}) == 4


BELL_STATES = {
    "phi+": {"00": 1, "11": 1},
    "phi-": {"00": 1, "11": -1},
    "psi+": {"01": 1, "10": 1},
    "psi-": {"01": 1, "10": -1},
}


@pytest.mark.parametrize("variant", list(BELL_STATES))
def test_bell_variants_match_ideal_state(variant):
    circuit = TEMPLATES["bell"].build(measure=False, variant=variant)
    amplitudes = np.zeros(4, dtype=complex)
    for label, sign in BELL_STATES[variant].items():
        amplitudes[int(label, 2)] = sign / math.sqrt(2)
    assert Statevector(circuit).equiv(Statevector(amplitudes))
    expected = dict.fromkeys(BELL_STATES[variant], 0.5)
    assert probabilities(circuit) == pytest.approx(expected)
    assert set(probabilities(circuit)) == set(expected)


def test_bell_phi_plus_distribution_exact():
    assert probabilities(TEMPLATES["bell"].build(measure=False)) == pytest.approx(
        {"00": 0.5, "11": 0.5}
    )


@pytest.mark.parametrize("n", [2, 3, 5, 8])
def test_ghz_matches_ideal_distribution(n):
    probs = probabilities(TEMPLATES["ghz"].build(measure=False, num_qubits=n))
    assert probs == pytest.approx({"0" * n: 0.5, "1" * n: 0.5})
    assert len(probs) == 2


def analytic_qft(n: int, x: int, sign: int) -> np.ndarray:
    """QFT|x⟩ = 2^(-n/2) Σ_k exp(sign · 2πi·x·k / 2^n) |k⟩."""
    size = 2**n
    k = np.arange(size)
    return np.exp(sign * 2j * np.pi * x * k / size) / math.sqrt(size)


@pytest.mark.parametrize(
    ("n", "x", "inverse"), [(1, 1, False), (3, 0, False), (3, 5, False), (4, 9, True), (5, 3, True)]
)
def test_qft_of_basis_state_has_uniform_magnitudes_and_analytic_phases(n, x, inverse):
    circuit = TEMPLATES["qft"].build(measure=False, num_qubits=n, initial_state=x, inverse=inverse)
    state = Statevector(circuit)
    assert np.allclose(np.abs(state.data), 1 / math.sqrt(2**n))
    assert state.equiv(Statevector(analytic_qft(n, x, -1 if inverse else 1)))
    assert set(circuit.count_ops()) <= {"x", "h", "cp", "swap"}


def test_qft_then_inverse_is_identity():
    forward = TEMPLATES["qft"].build(measure=False, num_qubits=4)
    backward = TEMPLATES["qft"].build(measure=False, num_qubits=4, inverse=True)
    assert Operator(forward.compose(backward)).equiv(Operator(QuantumCircuit(4)))


def test_qft_initial_state_must_fit():
    with pytest.raises(TemplateError, match=r"initial_state: 8 does not fit in 3 qubit"):
        TEMPLATES["qft"].build(initial_state=8)
    with pytest.raises(TemplateError, match="initial_state"):
        TEMPLATES["qft"].width({"initial_state": 8})


def rx(angle: float) -> np.ndarray:
    return np.array(
        [
            [math.cos(angle / 2), -1j * math.sin(angle / 2)],
            [-1j * math.sin(angle / 2), math.cos(angle / 2)],
        ]
    )


def test_qaoa_single_edge_matches_hand_computed_state():
    gamma, beta, weight = 0.3, 0.7, 1.5
    circuit = TEMPLATES["qaoa_maxcut"].build(
        measure=False, edges=[[0, 1, weight]], gammas=[gamma], betas=[beta]
    )
    zz = np.array([1, -1, -1, 1])  # Z⊗Z eigenvalues on |00⟩, |01⟩, |10⟩, |11⟩
    state = np.full(4, 0.5, dtype=complex)
    state = np.exp(-1j * gamma * weight * zz) * state  # RZZ(2γw) = exp(-iγw Z⊗Z)
    state = np.kron(rx(2 * beta), rx(2 * beta)) @ state
    assert Statevector(circuit).equiv(Statevector(state))


def test_qaoa_layers_and_default_schedule():
    edges = [[0, 1], [1, 2], [0, 2, 2.0]]
    circuit = TEMPLATES["qaoa_maxcut"].build(measure=False, edges=edges, p=3)
    assert circuit.count_ops()["rzz"] == 9
    assert circuit.count_ops()["rx"] == 9
    gammas, betas = qaoa_schedule(3)
    assert gammas == sorted(gammas) and betas == sorted(betas, reverse=True)
    explicit = TEMPLATES["qaoa_maxcut"].build(
        measure=False, edges=edges, p=3, gammas=gammas, betas=betas
    )
    assert circuit == explicit


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"p": 2, "gammas": [0.1]}, r"gammas: has 1 value\(s\) but p = 2; give one per layer"),
        ({"p": 1, "betas": [0.1, 0.2]}, r"betas: has 2 value\(s\) but p = 1"),
        ({"edges": [[1, 1]]}, r"edges\[0\]: self-loop on node 1"),
        ({"edges": [[0, 1], [1, 0]]}, r"edges\[1\]: duplicate of edges\[0\]"),
        ({"edges": [[0, 1, math.inf]]}, r"edges\[0\]\.weight\[0\]: must be a finite number"),
        ({"edges": [[0, -1]]}, r"edges\[0\]\[1\]: -1 is less than the minimum of 0"),
        ({"edges": [[0, 1, 1.0, 2]]}, r"edges\[0\]"),
        ({"edges": []}, r"edges: \[\] should be non-empty"),
        ({"p": 11}, r"p: 11 is greater than the maximum of 10"),
        ({"layers": 2}, r"unknown parameter 'layers'.*Valid: edges, p, gammas, betas"),
    ],
)
def test_qaoa_invalid_params(params, message):
    template = TEMPLATES["qaoa_maxcut"]
    assert any(re.search(message, problem) for problem in template.validate(params)), (
        template.validate(params)
    )
    with pytest.raises(TemplateError, match=message):
        template.build(**params)
    with pytest.raises(TemplateError):
        template.width(params)


def test_vqe_parameter_count_error_message():
    with pytest.raises(TemplateError) as info:
        TEMPLATES["vqe_ansatz"].build(num_qubits=2, layers=1, parameters=[0.1, 0.2, 0.3])
    assert str(info.value) == (
        "template 'vqe_ansatz': parameters: got 3 value(s) but num_qubits=2, layers=1, "
        "rotation_blocks=['ry', 'rz'] need 8 (num_qubits × len(rotation_blocks) × "
        "(layers + 1)); give 8 values or omit parameters to use seeded ones"
    )
    assert isinstance(info.value, QrunError)
    assert info.value.template == "vqe_ansatz"


def test_vqe_binds_given_parameters_in_documented_order():
    values = [0.1 * (i + 1) for i in range(2 * 1 * 2)]
    circuit = TEMPLATES["vqe_ansatz"].build(
        measure=False, num_qubits=2, layers=1, rotation_blocks=["ry"], parameters=values
    )
    ops = [
        (
            inst.operation.name,
            inst.operation.params,
            [circuit.find_bit(q).index for q in inst.qubits],
        )
        for inst in circuit.data
    ]
    assert ops == [
        ("ry", [0.1], [0]),
        ("ry", [0.2], [1]),
        ("cx", [], [0, 1]),
        ("ry", [pytest.approx(0.3)], [0]),
        ("ry", [0.4], [1]),
    ]


def test_vqe_seeded_defaults_are_deterministic_and_seed_dependent():
    vqe = TEMPLATES["vqe_ansatz"]
    assert vqe.build(seed=3) == vqe.build(seed=3)
    assert vqe.build(seed=3) != vqe.build(seed=4)
    assert not vqe.build().parameters


def test_vqe_invalid_rotation_block_and_non_finite_angle():
    vqe = TEMPLATES["vqe_ansatz"]
    assert any("'rw' is not one of" in p for p in vqe.validate({"rotation_blocks": ["rw"]}))
    nan_params = {"num_qubits": 1, "layers": 1, "rotation_blocks": ["rx"]}
    problems = vqe.validate({**nan_params, "parameters": [0.0, math.nan]})
    assert problems == ["parameters[1]: must be a finite number (got nan)"]


@pytest.mark.parametrize(
    ("n", "entanglement", "pairs"),
    [
        (3, "linear", [(0, 1), (1, 2)]),
        (3, "circular", [(0, 1), (1, 2), (2, 0)]),
        (2, "circular", [(0, 1)]),
        (3, "full", [(0, 1), (0, 2), (1, 2)]),
        (1, "full", []),
    ],
)
def test_vqe_entangling_pairs(n, entanglement, pairs):
    assert entangling_pairs(n, entanglement) == pairs


def test_quantum_volume_seed_determinism():
    qv = TEMPLATES["quantum_volume"]
    first = qv.build(measure=False, width=4, seed=7)
    assert first == qv.build(measure=False, width=4, seed=7)
    assert dump_qasm(first) == dump_qasm(qv.build(measure=False, width=4, seed=7))
    other = qv.build(measure=False, width=4, seed=8)
    assert first != other
    assert not Operator(first).equiv(Operator(other))
    assert set(first.count_ops()) == {"u", "cx"}


def test_quantum_volume_depth_defaults_to_width():
    qv = TEMPLATES["quantum_volume"]
    assert qv.build(width=3, seed=1) == qv.build(width=3, depth=3, seed=1)
    assert qv.build(width=3, seed=1) != qv.build(width=3, depth=2, seed=1)


def test_heavy_outputs_are_above_the_median():
    probs = {"00": 0.4, "01": 0.3, "10": 0.2, "11": 0.1}
    assert heavy_outputs(probs) == {"00", "01"}
    assert heavy_outputs({"0": 0.5, "1": 0.5}) == set()


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("ghz", {"num_qubits": 1}, r"num_qubits: 1 is less than the minimum of 2"),
        ("ghz", {"num_qubits": True}, r"num_qubits: True is not of type 'integer'"),
        ("ghz", {"nqubits": 4}, r"unknown parameter 'nqubits'. Did you mean 'num_qubits'\?"),
        ("bell", {"variant": "phi"}, r"variant: 'phi' is not one of"),
        ("quantum_volume", {"width": 21}, r"width: 21 is greater than the maximum of 20"),
    ],
)
def test_schema_violations_raise_template_error(name, params, message):
    with pytest.raises(TemplateError, match=message):
        TEMPLATES[name].build(**params)


def test_unknown_template_hint():
    with pytest.raises(QrunError) as info:
        get_template("gz")
    assert str(info.value) == (
        "Unknown template 'gz'. Did you mean 'ghz'? "
        "Valid: bell, ghz, qft, qaoa_maxcut, vqe_ansatz, quantum_volume, t1, t2_ramsey, "
        "t2_echo, readout, ghz_parity, rb"
    )
    with pytest.raises(QrunError, match=r"^Unknown template 'zzzzzz'\. Valid: bell, ghz"):
        get_template("zzzzzz")
    assert get_template("qft") is TEMPLATES["qft"]


QASM3_BELL = """// a comment before the header
OPENQASM 3.0;
include "stdgates.inc";
qubit[2] q;
bit[2] c;
h q[0];
cx q[0], q[1];
c = measure q;
"""


@pytest.mark.parametrize("text", [QASM2_BELL, QASM3_BELL])
def test_qasm_loads_to_standard_gates(text):
    circuit = load_qasm(text)
    assert circuit.num_qubits == 2
    assert circuit.count_ops() == {"h": 1, "cx": 1, "measure": 2}
    assert isinstance(circuit.data[0].operation, HGate)
    assert isinstance(circuit.data[1].operation, CXGate)
    unmeasured = circuit.remove_final_measurements(inplace=False)
    assert probabilities(unmeasured) == pytest.approx({"00": 0.5, "11": 0.5})


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("OPENQASM 2.0;\n", 2),
        ("OPENQASM 3;\n", 3),
        ("\n  // c\n/* block\ncomment */ OPENQASM 3.1;", 3),
        (QASM3_BELL, 3),
    ],
)
def test_qasm_version(text, version):
    assert qasm_version(text) == version


@pytest.mark.parametrize(
    ("text", "line", "col", "message"),
    [
        ("qreg q[1];\n", 1, 1, "missing 'OPENQASM 2.0;' or 'OPENQASM 3.0;' header"),
        ("// x\nOPENQASM 4.0;\n", 2, 1, "unsupported OpenQASM version 4"),
        (
            'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\nfoo q[0];\n',
            4,
            1,
            "'foo' is not defined",
        ),
        ("OPENQASM 2.0;\nqreg q[2];\nU(0,0,0) q[0] q[1];\n", 3, 15, "needed ';'"),
        ("OPENQASM 2.0;\nqreg q[2];\nU(0,0,0) q[5];\n", 3, 12, "index 5 is out-of-range"),
        ('OPENQASM 2.0;\ninclude "mine.inc";\n', 2, 9, "unable to find 'mine.inc'"),
        (
            'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\nh q[0];\ncx q[0], q[1]\nbit c;\n',
            6,
            1,
            "missing ';' at 'bit'",
        ),
        ("OPENQASM 3.0;\nqubit[1] q;\n  foo q[0];\n", 3, 3, "gate 'foo' is not defined"),
        (
            'OPENQASM 3.0;\ninclude "stdgates.inc";\n\ninput float theta;\nqubit[1] q;\nrx(theta) q[0];\n',
            4,
            1,
            "unbound input parameter(s) theta",
        ),
        ("OPENQASM 3.0;\nbit[2] c;\n", 1, 1, "declares no qubits"),
    ],
)
def test_broken_qasm_points_at_line(text, line, col, message):
    found = qasm_error(text)
    assert found is not None
    assert found[:2] == (line, col), found
    assert message in found[2]
    with pytest.raises(QasmError, match=rf"^line {line}, column {col}: "):
        load_qasm(text)


def test_valid_qasm_has_no_error():
    assert qasm_error(QASM2_BELL) is None
    assert qasm_error(QASM3_BELL) is None


@pytest.mark.parametrize(("name", "params", "width"), WIDTH_CASES)
def test_dump_qasm_round_trips(name, params, width):
    circuit = TEMPLATES[name].build(measure=False, **params)
    text = dump_qasm(circuit)
    assert qasm_version(text) == 2
    assert Operator(load_qasm(text)).equiv(Operator(circuit))
    measured = load_qasm(dump_qasm(TEMPLATES[name].build(**params)))
    assert [reg.name for reg in measured.cregs] == ["meas"]


def test_dump_qasm_renames_object_ids_deterministically():
    def circuit_with_clashing_gates() -> QuantumCircuit:
        first = QuantumCircuit(2, name="mygate")
        first.h(0)
        first.cx(0, 1)
        second = QuantumCircuit(2, name="mygate")
        second.x(0)
        second.cx(0, 1)
        circuit = QuantumCircuit(2)
        circuit.append(first.to_gate(), [0, 1])
        circuit.append(second.to_gate(), [1, 0])
        return circuit

    one, two = circuit_with_clashing_gates(), circuit_with_clashing_gates()
    text = dump_qasm(one)
    assert text == dump_qasm(two)
    assert "mygate_0 q[1],q[0];" in text
    assert not re.search(r"\d{6,}", text)
    assert Operator(load_qasm(text)).equiv(Operator(one))


def test_dump_qasm_falls_back_to_openqasm3():
    circuit = QuantumCircuit(1, 1)
    circuit.h(0)
    circuit.measure(0, 0)
    with circuit.if_test((circuit.clbits[0], 1)):
        circuit.x(0)
    text = dump_qasm(circuit)
    assert qasm_version(text) == 3
    loaded = load_qasm(text)
    assert loaded.count_ops() == {"h": 1, "measure": 1, "if_else": 1}
    assert dump_qasm(loaded) == text


def test_registry_and_width_do_not_import_qiskit():
    code = (
        "import runner.templates.registry as r, sys; "
        "r.TEMPLATES['ghz'].width({'num_qubits': 4}); "
        "[t.params_schema for t in r.TEMPLATES.values()]; "
        "[t.width({}) for t in r.TEMPLATES.values()]; "
        "assert 'qiskit' not in sys.modules, 'qiskit imported'"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


# Values that tell JSON Schema implementations apart: bools beside numbers, integral
# floats, nested lists (QAOA's prefixItems edges), duplicates, empty containers.
PROBES = [None, True, False, 0, 1, 3, -1, 3.0, 2.5, float("inf"), "", "phi+", "linear",
          [], [1], [1, 1], [1, True], [0.5, 1.5], [[0, 1]], [[0, 1, 0.5]], [[0, 1, 2, 3]],
          [[0, True]], [[0, 1.0]], [["a", 1]], {}, {"a": 1}, 10**6]  # fmt: skip


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_compiled_parameter_check_agrees_with_jsonschema(name):
    """The fast path (fastjsonschema on the draft 7 form) may only say "valid" when
    jsonschema (2020-12, which words the messages) does, and is not needlessly slow."""
    from runner.templates.base import _is_valid

    template = TEMPLATES[name]
    validator = Draft202012Validator(template.params_schema)
    defaults = template.defaults()
    for key in template.params_schema["properties"]:
        for value in PROBES:
            params = {**defaults, key: value}
            expected = validator.is_valid(params)
            assert _is_valid(name, template.params_schema, params) == expected, (key, value)
