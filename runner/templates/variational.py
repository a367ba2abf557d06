"""Variational-algorithm templates with every angle bound: QAOA for MaxCut and a VQE ansatz.

A spec records concrete angles (or a seed for them), so a run is a fixed circuit whose
result can be compared across scheduled runs; the optimiser loop lives outside qrun.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from runner.templates.base import make_template, params_schema

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

MAX_NODE = 126
RAMP = 0.75  # total "annealing time" of the default linear-ramp QAOA schedule
DEFAULT_EDGES = [[0, 1], [1, 2], [2, 3], [3, 0]]


def _non_finite(name: str, values: Sequence[float]) -> list[str]:
    """TOML allows inf and nan; an angle or weight cannot be either."""
    bad = [i for i, v in enumerate(values) if not math.isfinite(v)]
    return [f"{name}[{i}]: must be a finite number (got {values[i]})" for i in bad]


def qaoa_schedule(p: int) -> tuple[list[float], list[float]]:
    """Default angles: a linear ramp (gamma grows, beta shrinks), a standard warm start."""
    times = [(k + 0.5) / p for k in range(p)]
    return [RAMP * t for t in times], [RAMP * (1 - t) for t in times]


def _check_qaoa(params: Mapping[str, Any]) -> list[str]:
    """Edges must be simple and unique; one gamma and one beta per layer."""
    problems = []
    seen: dict[frozenset[int], int] = {}
    for index, edge in enumerate(params["edges"]):
        i, j = edge[0], edge[1]
        if i == j:
            problems.append(f"edges[{index}]: self-loop on node {i}; an edge joins two nodes")
        elif frozenset((i, j)) in seen:
            first = seen[frozenset((i, j))]
            problems.append(f"edges[{index}]: duplicate of edges[{first}] ({i}-{j}); merge weights")
        else:
            seen[frozenset((i, j))] = index
        if len(edge) == 3:
            problems += _non_finite(f"edges[{index}].weight", [edge[2]])
    p = params["p"]
    for key in ("gammas", "betas"):
        if key in params:
            if len(params[key]) != p:
                problems.append(
                    f"{key}: has {len(params[key])} value(s) but p = {p}; give one per layer "
                    "or omit it for the default linear-ramp schedule"
                )
            problems += _non_finite(key, params[key])
    return problems


def _qaoa_width(params: Mapping[str, Any]) -> int:
    """Nodes are numbered from 0, so the register is as wide as the largest index + 1."""
    return max(max(edge[0], edge[1]) for edge in params["edges"]) + 1


def _build_qaoa(
    edges: list[list[float]],
    p: int,
    gammas: list[float] | None = None,
    betas: list[float] | None = None,
) -> QuantumCircuit:
    """|+⟩^n, then p × (cost layer RZZ(2γw) per edge, mixer RX(2β) per node)."""
    from qiskit import QuantumCircuit

    default_gammas, default_betas = qaoa_schedule(p)
    gammas = default_gammas if gammas is None else gammas
    betas = default_betas if betas is None else betas
    width = _qaoa_width({"edges": edges})
    circuit = QuantumCircuit(width)
    circuit.h(range(width))
    for gamma, beta in zip(gammas, betas, strict=True):
        for edge in edges:
            weight = float(edge[2]) if len(edge) == 3 else 1.0
            circuit.rzz(2 * float(gamma) * weight, int(edge[0]), int(edge[1]))
        circuit.rx(2 * float(beta), range(width))
    return circuit


_NODE = {"type": "integer", "minimum": 0, "maximum": MAX_NODE}
_ANGLES = {"type": "array", "items": {"type": "number"}, "minItems": 1, "maxItems": 10}

QAOA_MAXCUT = make_template(
    name="qaoa_maxcut",
    description="QAOA circuit for weighted MaxCut with fixed angles (width = largest node + 1).",
    schema=params_schema(
        "qaoa_maxcut parameters",
        {
            "edges": {
                "description": "Graph edges as [i, j] or [i, j, weight]; nodes are 0-based.",
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "array",
                    "prefixItems": [_NODE, _NODE, {"type": "number"}],
                    "items": False,
                    "minItems": 2,
                },
                "default": DEFAULT_EDGES,
            },
            "p": {
                "description": "Number of QAOA layers.",
                "type": "integer",
                "minimum": 1,
                "maximum": 10,
                "default": 1,
            },
            "gammas": {
                **_ANGLES,
                "description": "Cost-layer angles, one per layer (default: linear ramp).",
            },
            "betas": {
                **_ANGLES,
                "description": "Mixer angles, one per layer (default: linear ramp).",
            },
        },
    ),
    builder=_build_qaoa,
    width_of=_qaoa_width,
    check_params=_check_qaoa,
)

ENTANGLEMENTS = ("linear", "circular", "full")
ROTATIONS = ("rx", "ry", "rz")


def vqe_parameter_count(num_qubits: int, layers: int, rotation_blocks: Sequence[str]) -> int:
    """One angle per qubit per rotation block per rotation layer (layers + 1 of them)."""
    return num_qubits * len(rotation_blocks) * (layers + 1)


def entangling_pairs(num_qubits: int, entanglement: str) -> list[tuple[int, int]]:
    """CX (control, target) pairs of one entangling layer."""
    if entanglement == "full":
        return [(i, j) for i in range(num_qubits) for j in range(i + 1, num_qubits)]
    pairs = [(i, i + 1) for i in range(num_qubits - 1)]
    if entanglement == "circular" and num_qubits > 2:
        pairs.append((num_qubits - 1, 0))
    return pairs


def _check_vqe(params: Mapping[str, Any]) -> list[str]:
    """An explicit parameter list must match the ansatz exactly; no silent padding."""
    if "parameters" not in params:
        return []
    n, layers, blocks = params["num_qubits"], params["layers"], params["rotation_blocks"]
    need = vqe_parameter_count(n, layers, blocks)
    got = len(params["parameters"])
    if got != need:
        return [
            f"parameters: got {got} value(s) but num_qubits={n}, layers={layers}, "
            f"rotation_blocks={list(blocks)} need {need} (num_qubits × len(rotation_blocks) × "
            f"(layers + 1)); give {need} values or omit parameters to use seeded ones"
        ]
    return _non_finite("parameters", params["parameters"])


def _build_vqe(
    num_qubits: int,
    layers: int,
    entanglement: str,
    rotation_blocks: list[str],
    seed: int,
    parameters: list[float] | None = None,
) -> QuantumCircuit:
    """Rotation layer, then ``layers`` × (CX layer, rotation layer); angles consumed in order
    rotation layer → block → qubit. Without ``parameters``, angles are uniform in [-π, π)
    from ``random.Random(seed)``, which Python keeps reproducible across versions."""
    from qiskit import QuantumCircuit

    if parameters is None:
        rng = random.Random(seed)
        count = vqe_parameter_count(num_qubits, layers, rotation_blocks)
        parameters = [rng.uniform(-math.pi, math.pi) for _ in range(count)]
    angles = iter(float(value) for value in parameters)
    circuit = QuantumCircuit(num_qubits)
    pairs = entangling_pairs(num_qubits, entanglement)
    for layer in range(layers + 1):
        if layer:
            for control, target in pairs:
                circuit.cx(control, target)
        for block in rotation_blocks:
            for qubit in range(num_qubits):
                getattr(circuit, block)(next(angles), qubit)
    return circuit


VQE_ANSATZ = make_template(
    name="vqe_ansatz",
    description="Hardware-efficient VQE ansatz: rotation layers interleaved with CX entanglers.",
    schema=params_schema(
        "vqe_ansatz parameters",
        {
            "num_qubits": {
                "description": "Register size.",
                "type": "integer",
                "minimum": 1,
                "maximum": 127,
                "default": 4,
            },
            "layers": {
                "description": "Entangling layers (there is one more rotation layer).",
                "type": "integer",
                "minimum": 1,
                "maximum": 20,
                "default": 2,
            },
            "entanglement": {
                "description": "CX pattern: neighbours (linear), plus last→first (circular), "
                "or all pairs (full).",
                "type": "string",
                "enum": list(ENTANGLEMENTS),
                "default": "linear",
            },
            "rotation_blocks": {
                "description": "Single-qubit rotations applied in each rotation layer, in order.",
                "type": "array",
                "items": {"type": "string", "enum": list(ROTATIONS)},
                "minItems": 1,
                "maxItems": 3,
                "uniqueItems": True,
                "default": ["ry", "rz"],
            },
            "parameters": {
                "description": "All rotation angles in order layer → block → qubit; exactly "
                "num_qubits × len(rotation_blocks) × (layers + 1) values (default: seeded).",
                "type": "array",
                "items": {"type": "number"},
            },
            "seed": {
                "description": "Seed for the default angles (ignored when parameters is given).",
                "type": "integer",
                "minimum": 0,
                "default": 0,
            },
        },
    ),
    builder=_build_vqe,
    width_of=lambda params: int(params["num_qubits"]),
    check_params=_check_vqe,
)
