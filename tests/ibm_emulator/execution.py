"""Running submitted PUBs on Aer, the way qiskit-ibm-runtime's local mode does.

The POST body is decoded with the client's own ``RuntimeDecoder`` so the PUBs come back
as real ``QuantumCircuit`` / ``ndarray`` objects; they run through qiskit's
``BackendSamplerV2`` / ``BackendEstimatorV2`` on either a noiseless ``AerSimulator`` or
the device's fake backend (its noise model), which is what local mode does underneath.
The result text is ``json.dumps(PrimitiveResult, cls=RuntimeEncoder)``, byte-for-byte the
format the service returns. Heavy imports stay inside functions.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from . import executor_program

SUPPORTED_PROGRAMS = ("sampler", "estimator", "executor")
DEFAULT_SHOTS = 4096
DEFAULT_PRECISION = 0.015625


@dataclass(frozen=True)
class CostModel:
    """Deterministic QPU seconds: ceil(per_job + per_circuit * circuits + per_shot * shots)."""

    per_job: float = 1.0
    per_circuit: float = 0.1
    per_shot: float = 0.0002

    def quantum_seconds(self, num_circuits: int, total_shots: int) -> int:
        """QPU seconds the emulator charges for a job of this size."""
        raw = self.per_job + self.per_circuit * num_circuits + self.per_shot * total_shots
        return math.ceil(round(raw, 9))


@dataclass
class PreparedJob:
    """A decoded job: coerced PUBs plus the run options the primitive needs."""

    program_id: str
    pubs: list[Any]  # coerced PUBs; for "executor", empty (``raw`` holds the payload)
    options: dict[str, Any]
    num_circuits: int
    total_shots: int
    raw: dict[str, Any] | None = None


def prepare(program_id: str, body: bytes) -> PreparedJob:
    """Decode a POST /jobs body; raises ValueError/TypeError/KeyError when malformed.

    Primitive payloads go through ``json.loads(body, cls=RuntimeDecoder)`` so the PUBs hold
    real ``QuantumCircuit`` and ``ndarray`` objects; executor payloads are schema models.
    """
    from qiskit_ibm_runtime import RuntimeDecoder

    if program_id not in SUPPORTED_PROGRAMS:
        raise ValueError(f"program {program_id!r} is not supported by the emulator")
    if program_id == "executor":
        raw = json.loads(body)["params"]
        circuits, shots = executor_program.size(raw)
        return PreparedJob(program_id, [], {}, circuits, shots, raw=raw)
    params = json.loads(body, cls=RuntimeDecoder)["params"]
    if int(params.get("version", 2)) != 2:
        raise ValueError("only primitive version 2 payloads are supported")
    raw_options = params.get("options") or {}
    seed = (raw_options.get("simulator") or {}).get("seed_simulator")
    if program_id == "sampler":
        from qiskit.primitives.containers.sampler_pub import SamplerPub

        default_shots = int(raw_options.get("default_shots") or DEFAULT_SHOTS)
        pubs = [SamplerPub.coerce(_as_tuple(p), default_shots) for p in params["pubs"]]
        shots = sum(int(p.shots) * max(1, p.parameter_values.size) for p in pubs)
        options = {"default_shots": default_shots, "seed_simulator": seed}
    else:
        from qiskit.primitives.containers.estimator_pub import EstimatorPub

        precision = float(raw_options.get("default_precision") or DEFAULT_PRECISION)
        if raw_options.get("default_shots"):
            precision = 1 / math.sqrt(int(raw_options["default_shots"]))
        pubs = [EstimatorPub.coerce(_as_tuple(p), precision) for p in params["pubs"]]
        shots = sum(
            math.ceil(1 / float(p.precision) ** 2) * max(1, p.parameter_values.size) for p in pubs
        )
        options = {"default_precision": precision, "seed_simulator": seed}
    if not pubs:
        raise ValueError("the payload holds no PUBs")
    return PreparedJob(program_id, pubs, options, len(pubs), shots)


def _as_tuple(pub: Any) -> Any:
    return tuple(pub) if isinstance(pub, list) else pub


def run(job: PreparedJob, backend: Any, default_seed: int | None) -> str:
    """Execute on ``backend`` (a BackendV2) and return the encoded PrimitiveResult."""
    from qiskit.primitives import BackendEstimatorV2, BackendSamplerV2
    from qiskit_ibm_runtime import RuntimeEncoder

    seed = job.options.get("seed_simulator")
    seed = default_seed if seed is None else seed
    if job.raw is not None:
        return executor_program.run(job.raw, backend, seed)
    if job.program_id == "sampler":
        options: dict[str, Any] = {"default_shots": job.options["default_shots"]}
        if seed is not None:
            options["seed_simulator"] = seed
        result = BackendSamplerV2(backend=backend, options=options).run(job.pubs).result()
    else:
        options = {"default_precision": job.options["default_precision"]}
        if seed is not None:
            options["seed_simulator"] = seed
        result = BackendEstimatorV2(backend=backend, options=options).run(job.pubs).result()
    return json.dumps(result, cls=RuntimeEncoder)


def noiseless_simulator() -> Any:
    """A fresh noiseless AerSimulator (local mode's ``local:aer``)."""
    from qiskit_aer import AerSimulator

    return AerSimulator()
