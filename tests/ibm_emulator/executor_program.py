"""The ``executor`` program: QuantumProgram payloads from the client-side Sampler/Estimator.

Since 0.50 qiskit-ibm-runtime's new primitives send ``program_id: "executor"`` with an
``ibm_quantum_schemas`` v2.0 payload and post-process on the client. The emulator decodes
it with the package's own converters, runs it with the package's local executor
(``run_quantum_program``) and answers with a v2.0 ``QuantumProgramResultModel`` that carries
the request's ``semantic_role`` and ``passthrough_data`` back, as the service does.
"""

from __future__ import annotations

from typing import Any

SCHEMA_VERSION = "v2.0"


def size(params: dict[str, Any]) -> tuple[int, int]:
    """(number of circuits, total shots) of an executor payload; ValueError if invalid."""
    model = _model(params)
    program = model.quantum_program
    total = 0
    for item in program.items:
        elements = 1
        for dim in item.shape:
            elements *= int(dim)
        total += program.shots * max(1, elements)
    return len(program.items), total


def _model(params: dict[str, Any]) -> Any:
    from ibm_quantum_schemas.executor.version_2_0 import ParamsModel
    from pydantic import ValidationError

    if params.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"executor schema {params.get('schema_version')!r} is not supported")
    try:
        return ParamsModel.model_validate(params)
    except ValidationError as exc:
        raise ValueError(f"invalid executor payload: {exc.error_count()} errors") from None


def run(params: dict[str, Any], backend: Any, seed: int | None) -> str:
    """Run the program on ``backend`` and return the v2.0 result model as JSON text."""
    from ibm_quantum_schemas.common.tensor import CompressedTensorModel
    from ibm_quantum_schemas.executor.version_2_0.models import (
        ItemMetadataModel,
        MetadataModel,
        QuantumProgramResultItemModel,
        QuantumProgramResultModel,
    )
    from qiskit_ibm_runtime.fake_provider.executor.run_quantum_program import (
        run_quantum_program,
    )
    from qiskit_ibm_runtime.options_models.simulator import SimulatorOptions
    from qiskit_ibm_runtime.quantum_program.converters import quantum_program_from_2_0

    model = _model(params)
    program, _options = quantum_program_from_2_0(model)
    for item in program.items:
        samplex = getattr(item, "samplex", None)
        if samplex is not None:
            samplex.finalize()  # deserialized samplexes arrive unfinalized
    result = run_quantum_program(backend, program, SimulatorOptions(seed_simulator=seed))
    items = [
        QuantumProgramResultItemModel(
            results={name: CompressedTensorModel.from_numpy(value) for name, value in item.items()},
            metadata=ItemMetadataModel(),
        )
        for item in result
    ]
    answer = QuantumProgramResultModel(
        data=items,
        metadata=MetadataModel(chunk_timing=[]),
        passthrough_data=model.quantum_program.passthrough_data,
        semantic_role=model.quantum_program.semantic_role,
    )
    return answer.model_dump_json()
