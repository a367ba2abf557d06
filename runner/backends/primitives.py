"""The primitives both backends run, their options, and the result of record they store.

qiskit-ibm-runtime 0.50 deprecated SamplerV2/EstimatorV2 in favour of the executor-based
Sampler and Estimator (program `executor`): they pre- and post-process on the client, run
in job and batch mode on IBM Quantum and in local mode on Aer, and return the same
`PrimitiveResult` of `SamplerPubResult`/`PubResult` the V2 primitives did. Their metadata
carries client-side timing and a pydantic object, so `v2_shaped` keeps only the data and
the shots before `runner.analysis.record` encodes the result of record: the same readable
format, byte-identical for identical counts, whichever primitive produced it.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from runner.backends.base import RunRequest

PRIMITIVES = {
    "sampler": ("qiskit_ibm_runtime.executor_sampler", "Sampler"),
    "estimator": ("qiskit_ibm_runtime.executor_estimator", "Estimator"),
}
"""primitive name -> (module, class): the non-deprecated client-side primitives."""


def make_primitive(request: RunRequest, mode: Any, seed_simulator: int | None = None) -> Any:
    """The executor-based primitive for the request on `mode` (a backend or a Batch), with
    the run's shots, job tags and the spec's options (`seed_simulator` for local mode)."""
    module, name = PRIMITIVES[request.primitive]
    primitive = getattr(importlib.import_module(module), name)(mode=mode)
    options = primitive.options
    options.default_shots = request.shots
    options.environment.job_tags = list(request.tags)
    spec_options = dict(request.options)
    for group in ("dynamical_decoupling", "twirling"):
        for key, value in dict(spec_options.get(group, {})).items():
            setattr(getattr(options, group), key, value)
    if request.primitive == "estimator" and "resilience_level" in spec_options:
        options.resilience_level = spec_options["resilience_level"]
    if seed_simulator is not None:
        options.simulator.seed_simulator = seed_simulator
    return primitive


def make_pubs(request: RunRequest, circuits: Sequence[Any], observables: Sequence[Any]) -> list:
    """One PUB per circuit: (circuit,) for the sampler, (circuit, observables) for the
    estimator; shots come from the primitive's default_shots."""
    if request.primitive == "estimator":
        return [(c, list(obs)) for c, obs in zip(circuits, observables, strict=True)]
    return [(c,) for c in circuits]


def v2_shaped(result: Any) -> Any:
    """The executor primitives' PrimitiveResult as SamplerV2/EstimatorV2 shaped it, for
    `runner.analysis.record`: each PUB's data (BitArrays per register, or evs and stds)
    with its shots, and none of the client-side timing or pydantic metadata. V2 results
    (jobs submitted before the switch) pass through the same way."""
    from qiskit.primitives import DataBin, PrimitiveResult, PubResult, SamplerPubResult

    total = result.metadata.get("shots") if isinstance(result.metadata, dict) else None
    pubs: list[Any] = []
    for pub in result:
        if isinstance(pub, SamplerPubResult):
            names = list(pub.data.keys())
            shots = int(pub.data[names[0]].num_shots) if names else total
            pubs.append(SamplerPubResult(pub.data, metadata={"shots": shots}))
        else:
            data = DataBin(evs=pub.data.evs, stds=pub.data.stds, shape=pub.data.shape)
            shots = pub.metadata.get("shots", total) if isinstance(pub.metadata, dict) else total
            pubs.append(PubResult(data, metadata={"shots": shots}))
    return PrimitiveResult(pubs, metadata={"version": 2})
