"""What a submission would look like before QPU time is spent: transpiled depth and
two-qubit gate count on the target (or its fake twin), and for small circuits the
expected noiseless and noisy distributions (estimator circuits: the noiseless expectation
value of each observable), for the pull-request plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runner.backends.base import TranspileInfo
from runner.backends.catalog import fake_twin
from runner.spec.model import Spec

PREVIEW_MAX_QUBITS = 10
PREVIEW_SHOTS = 1024


@dataclass(frozen=True)
class CircuitPreview:
    circuit_id: str
    width: int
    transpiled: TranspileInfo | None
    ideal: dict[str, float] | None = None
    noisy: dict[str, float] | None = None
    expectations: dict[str, float] | None = None  # observable -> noiseless ⟨O⟩ (estimator)


def _device(target: str) -> tuple[Any, str] | None:
    """The backend object to transpile for: Aer, or the target's fake twin."""
    from runner.backends.local import load_device

    if target == "local:aer":
        return load_device(target), "local:aer"
    twin = fake_twin(target)
    return (load_device(f"local:{twin}"), f"local:{twin}") if twin else None


def preview(spec: Spec, simulate: bool = False) -> list[CircuitPreview]:
    """Transpile with the spec's seed; optionally simulate small circuits (ideal and noisy)."""
    from runner.backends.transpile import transpile_for
    from runner.circuits import build_jobs

    jobs = build_jobs(spec)
    found = _device(spec.target)
    infos: dict[str, TranspileInfo] = {}
    if found is not None:
        _, infos = transpile_for(
            jobs, found[0], spec.execution.optimization_level, spec.execution.seed_transpiler
        )
    ideals: dict[str, Any] = {}
    noisy: dict[str, Any] = {}
    expectations: dict[str, dict[str, float]] = {}
    if simulate and spec.execution.primitive == "sampler":
        ideals, noisy = _simulate(spec, jobs, found[1] if found else None)
    elif simulate:
        expectations = _expectations(jobs)
    return [
        CircuitPreview(
            c.circuit_id,
            c.width,
            infos.get(c.circuit_id),
            ideals.get(c.circuit_id),
            noisy.get(c.circuit_id),
            expectations.get(c.circuit_id),
        )
        for c in spec.circuits
    ]


def _expectations(jobs: Any) -> dict[str, dict[str, float]]:
    """Noiseless ⟨O⟩ of each observable of the small estimator circuits."""
    from runner.analysis.ideal import ideal_expectations

    found = {}
    for job in jobs:
        if job.observables and job.circuit.num_qubits <= PREVIEW_MAX_QUBITS:
            values = ideal_expectations(job.circuit, job.observables, PREVIEW_MAX_QUBITS)
            if values is not None:
                found[job.circuit_id] = dict(zip(job.observables, values, strict=True))
    return found


def _simulate(spec: Spec, jobs: Any, twin: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    from runner.analysis.ideal import ideal_probabilities
    from runner.analysis.record import decode_record
    from runner.backends.base import RunRequest

    small = tuple(j for j in jobs if j.circuit.num_qubits <= PREVIEW_MAX_QUBITS)
    ideals = {j.circuit_id: ideal_probabilities(j.circuit, PREVIEW_MAX_QUBITS) for j in small}
    noisy: dict[str, Any] = {}
    if twin and twin != "local:aer" and small:
        from runner.backends.local import LocalBackend

        backend = LocalBackend(twin)
        request = RunRequest(
            name=spec.name,
            run_id="0000-preview0",
            target=twin,
            primitive="sampler",
            shots=PREVIEW_SHOTS,
            optimization_level=spec.execution.optimization_level,
            seed=spec.execution.seed_transpiler,
            circuits=small,
        )
        submission = backend.submit(request)
        first = submission.jobs[0].job_id
        outcome = backend.collect([first], first_job=first)[0]
        for job, pub in zip(
            small, decode_record(outcome.result_json or "", "sampler"), strict=True
        ):
            total = sum((pub.counts or {}).values()) or 1
            noisy[job.circuit_id] = {k: v / total for k, v in sorted((pub.counts or {}).items())}
    return ideals, noisy
