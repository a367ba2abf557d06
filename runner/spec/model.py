"""The validated, immutable form of a spec: what the rest of the runner works with."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

SCHEDULES = ("daily", "weekly", "monthly")


@dataclass(frozen=True)
class CircuitEntry:
    """One [[circuits]] table as written (a sweep not yet expanded)."""

    name: str
    template: str | None
    params: dict[str, Any]
    sweep: dict[str, list[Any]]
    qasm: str | None
    observables: tuple[str, ...]
    layout: tuple[int, ...] | None = None  # physical qubit of each circuit qubit


@dataclass(frozen=True)
class ExpandedCircuit:
    """One concrete circuit (one PUB): a sweep point or a plain entry."""

    circuit_id: str
    entry: str
    template: str | None
    params: dict[str, Any]
    qasm: str | None
    observables: tuple[str, ...]
    width: int
    layout: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Execution:
    primitive: Literal["sampler", "estimator"] = "sampler"
    shots: int = 4096
    optimization_level: int = 1
    seed_transpiler: int = 1234
    schedule: str | None = None
    max_qpu_seconds: float | None = None
    max_cost: float | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Analysis:
    fidelity_threshold: float | None = None
    drift_sigma: float = 3.0
    history: int = 20
    ideal_max_qubits: int = 20


@dataclass(frozen=True)
class Spec:
    """A validated experiment spec, defaults applied."""

    name: str
    path: Path
    description: str
    tags: tuple[str, ...]
    target: str
    min_qubits: int | None
    execution: Execution
    entries: tuple[CircuitEntry, ...]
    circuits: tuple[ExpandedCircuit, ...]
    analysis: Analysis
    run_hash: str
    qasm_digests: dict[str, str] = field(default_factory=dict)
    targets: tuple[str, ...] = ()
    run_hashes: dict[str, str] = field(default_factory=dict)

    def variants(self) -> tuple[Spec, ...]:
        """One spec per target: a multi-target spec runs (and is planned) once per target."""
        if len(self.targets) <= 1:
            return (self,)
        return tuple(replace(self, target=t, run_hash=self.run_hashes[t]) for t in self.targets)

    def variant(self, target: str | None) -> Spec:
        """The spec as run on one of its targets (itself when target is None or its own)."""
        if target is None or target == self.target:
            return self
        return next(v for v in self.variants() if v.target == target)

    @property
    def width(self) -> int:
        """The widest circuit, which decides which backends can run the spec."""
        return max(c.width for c in self.circuits)
