"""Exact noiseless output of dynamic circuits: mid-circuit measurement, reset, if/else.

A statevector alone cannot hold a circuit whose later gates depend on what was measured,
so we follow every branch: each branch is (probability, statevector, classical bits).
A mid-circuit measurement or reset splits a branch in two (outcomes of probability below
1e-12 are dropped), a condition is evaluated on the branch's own bits, and the final
measurements are read out from each branch's state exactly, so a wide final readout costs
no more branches. The result is the exact distribution over all classical bits (clbit 0
rightmost), the same keys the sampler gives. Branch count is capped: a circuit with many
mid-circuit measurements gets a note instead of an ideal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qiskit import QuantumCircuit
    from qiskit.quantum_info import Statevector

MAX_BRANCHES = 4096
_TINY = 1e-12
_SKIPPED = frozenset({"barrier", "delay"})


class Unsupported(Exception):
    """The circuit uses something this simulator cannot follow exactly; str() says what."""


@dataclass
class _Branch:
    prob: float
    state: Statevector
    bits: int  # classical register contents, clbit i is bit i


def dynamic_probabilities(circuit: QuantumCircuit) -> dict[str, float]:
    """The exact outcome distribution over all clbits; raises Unsupported with the reason."""
    from qiskit.quantum_info import Statevector

    final = _final_measurements(circuit)
    branches = [_Branch(1.0, Statevector.from_int(0, 2**circuit.num_qubits), 0)]
    qubits = list(range(circuit.num_qubits))
    clbits = list(range(circuit.num_clbits))
    body = [inst for i, inst in enumerate(circuit.data) if i not in final]
    branches = _run(circuit, body, qubits, clbits, branches)
    if not any(inst.operation.name == "measure" for inst in circuit.data):
        width = circuit.num_qubits  # read out on every qubit, as ideal.py does
        return _read_out(
            [_Branch(b.prob, b.state, 0) for b in branches], dict(enumerate(qubits)), width
        )
    readout = {circuit.find_bit(circuit.data[i].clbits[0]).index: _qubit(circuit, i) for i in final}
    return _read_out(branches, readout, circuit.num_clbits)


def _qubit(circuit: QuantumCircuit, index: int) -> int:
    return circuit.find_bit(circuit.data[index].qubits[0]).index


def _final_measurements(circuit: QuantumCircuit) -> set[int]:
    """Indices of measurements nothing later touches (neither their qubit nor their clbit)."""
    final: set[int] = set()
    busy_qubits: set[Any] = set()
    busy_clbits: set[Any] = set()
    for index in range(len(circuit.data) - 1, -1, -1):
        inst = circuit.data[index]
        if inst.operation.name in _SKIPPED:
            continue
        qubits, clbits = set(inst.qubits), set(inst.clbits)
        if inst.operation.name == "measure" and not (qubits & busy_qubits or clbits & busy_clbits):
            final.add(index)
        busy_qubits |= qubits
        busy_clbits |= clbits
    return final


def _run(
    circuit: QuantumCircuit,
    instructions: Sequence[Any],
    qmap: Sequence[int],
    cmap: Sequence[int],
    branches: list[_Branch],
) -> list[_Branch]:
    """Apply instructions (of `circuit`, whose qubit/clbit k is global qmap[k]/cmap[k])."""
    from qiskit.circuit import ControlFlowOp

    for inst in instructions:
        op = inst.operation
        qs = [qmap[circuit.find_bit(q).index] for q in inst.qubits]
        cs = [cmap[circuit.find_bit(c).index] for c in inst.clbits]
        if op.name in _SKIPPED:
            continue
        if op.name == "measure":
            branches = _split(branches, qs[0], clbit=cs[0])
        elif op.name == "reset":
            branches = _split(branches, qs[0], clbit=None)
        elif isinstance(op, ControlFlowOp):
            branches = [
                out for branch in branches for out in _control_flow(circuit, inst, qs, cs, branch)
            ]
        else:
            if inst.clbits:
                raise Unsupported(f"'{op.name}' writes classical bits")
            try:
                for branch in branches:
                    branch.state = branch.state.evolve(op, qs)
            except Exception as exc:  # an opaque gate without a matrix or definition
                raise Unsupported(f"gate '{op.name}' has no matrix ({exc})") from None
        if len(branches) > MAX_BRANCHES:
            raise Unsupported(f"more than {MAX_BRANCHES} measurement branches")
    return branches


def _split(branches: list[_Branch], qubit: int, clbit: int | None) -> list[_Branch]:
    """Project each branch on qubit = 0 and = 1 (dropping impossible outcomes), then record
    the outcome in clbit (a measurement) or return the qubit to 0 (clbit None: a reset)."""
    import numpy as np

    out = []
    for branch in branches:
        p1 = float(branch.state.probabilities([qubit])[1])
        for outcome, p in ((0, 1.0 - p1), (1, p1)):
            if p < _TINY:
                continue
            data = np.asarray(branch.state.data).copy()
            index = np.arange(data.size)
            data[((index >> qubit) & 1) != outcome] = 0
            from qiskit.quantum_info import Statevector

            state = Statevector(data / np.sqrt(p))
            split = _Branch(branch.prob * p, state, branch.bits)
            out.append(
                _flip_back(split, qubit, outcome)
                if clbit is None
                else _set_bit(split, clbit, outcome)
            )
    return out


def _set_bit(branch: _Branch, clbit: int, outcome: int) -> _Branch:
    branch.bits = (branch.bits & ~(1 << clbit)) | (outcome << clbit)
    return branch


def _flip_back(branch: _Branch, qubit: int, outcome: int) -> _Branch:
    if outcome:
        from qiskit.circuit.library import XGate

        branch.state = branch.state.evolve(XGate(), [qubit])
    return branch


def _control_flow(
    circuit: QuantumCircuit, inst: Any, qs: list[int], cs: list[int], branch: _Branch
) -> list[_Branch]:
    """One branch through an if/else, switch or for loop (bodies see inst's bits)."""
    op = inst.operation

    def index_of(clbit: Any) -> int:
        return cs[[*inst.clbits].index(clbit)] if clbit in inst.clbits else _global(clbit)

    def _global(clbit: Any) -> int:
        raise Unsupported(f"condition on {clbit!r}, which the block does not carry")

    if op.name == "if_else":
        taken = _condition(index_of, op.condition, branch)
        body = op.params[0] if taken else op.params[1]
        blocks = [] if body is None else [body]
    elif op.name == "switch_case":
        value = _value(index_of, op.target, branch)
        blocks = [next((b for keys, b in op.cases_specifier() if _matches(value, keys)), None)]
        blocks = [b for b in blocks if b is not None]
    elif op.name == "for_loop":
        indexset, parameter, body = op.params
        blocks = [body if parameter is None else body.assign_parameters({parameter: i})
                  for i in indexset]  # fmt: skip
    else:
        raise Unsupported(f"'{op.name}' (a loop whose length depends on measurements)")
    branches = [branch]
    for block in blocks:
        branches = _run(block, block.data, qs, cs, branches)
    return branches


def _matches(value: int, keys: Sequence[Any]) -> bool:
    from qiskit.circuit import CASE_DEFAULT

    return any(key is CASE_DEFAULT or key == value for key in keys)


def _value(index_of: Callable[[Any], int], target: Any, branch: _Branch) -> int:
    """The integer a Clbit, ClassicalRegister or classical expression holds in the branch."""
    from qiskit.circuit import ClassicalRegister, Clbit
    from qiskit.circuit.classical import expr

    if isinstance(target, Clbit):
        return (branch.bits >> index_of(target)) & 1
    if isinstance(target, ClassicalRegister):
        return sum(_value(index_of, bit, branch) << k for k, bit in enumerate(target))
    if isinstance(target, expr.Var):
        return _value(index_of, target.var, branch)
    if isinstance(target, expr.Value):
        return int(target.value)
    if isinstance(target, expr.Cast):
        return _value(index_of, target.operand, branch)
    if isinstance(target, expr.Unary):
        inner = _value(index_of, target.operand, branch)
        if target.op is expr.Unary.Op.LOGIC_NOT:
            return int(not inner)
        return ~inner & ((1 << target.type.width) - 1) if hasattr(target.type, "width") else ~inner
    if isinstance(target, expr.Binary):
        left, right = _value(index_of, target.left, branch), _value(index_of, target.right, branch)
        operation = _BINARY.get(target.op.name)
        if operation is not None:
            return int(operation(left, right))
    raise Unsupported(f"classical expression {target!r}")


_BINARY: dict[str, Callable[[int, int], int | bool]] = {
    "BIT_AND": lambda a, b: a & b,
    "BIT_OR": lambda a, b: a | b,
    "BIT_XOR": lambda a, b: a ^ b,
    "LOGIC_AND": lambda a, b: bool(a) and bool(b),
    "LOGIC_OR": lambda a, b: bool(a) or bool(b),
    "EQUAL": lambda a, b: a == b,
    "NOT_EQUAL": lambda a, b: a != b,
    "LESS": lambda a, b: a < b,
    "LESS_EQUAL": lambda a, b: a <= b,
    "GREATER": lambda a, b: a > b,
    "GREATER_EQUAL": lambda a, b: a >= b,
}


def _condition(index_of: Callable[[Any], int], condition: Any, branch: _Branch) -> bool:
    if isinstance(condition, tuple):
        target, wanted = condition
        return _value(index_of, target, branch) == int(wanted)
    return bool(_value(index_of, condition, branch))


def _read_out(branches: list[_Branch], readout: dict[int, int], width: int) -> dict[str, float]:
    """Sum over branches of the final measurements' exact distribution, keyed by all clbits."""
    import numpy as np

    out: dict[str, float] = {}
    qubits = sorted(set(readout.values()))
    position = {q: k for k, q in enumerate(qubits)}
    for branch in branches:
        base = branch.bits
        for clbit in readout:
            base &= ~(1 << clbit)
        if qubits:
            probs = branch.state.probabilities(qargs=qubits)
            index = np.flatnonzero(probs >= _TINY)
            labels = np.full(index.shape, base, dtype=np.int64)
            for clbit, qubit in readout.items():
                labels |= ((index >> position[qubit]) & 1) << clbit
            weights = (probs[index] * branch.prob).tolist()
            pairs: list[tuple[int, float]] = list(zip(labels.tolist(), weights, strict=True))
        else:
            pairs = [(base, branch.prob)]
        for label, prob in pairs:
            key = format(label, f"0{width}b")
            out[key] = out.get(key, 0.0) + prob
    return {k: v for k, v in sorted(out.items()) if v >= _TINY}
