"""The service's own usage estimate of a planned hardware submission, beside qrun's.

The executor primitives' `run(pubs, dry_run=True)` is qiskit-ibm-runtime's estimate: the
client swaps the device for its mock twin (`ibm_fez` -> `mock_fez`, see
`QiskitRuntimeService._run`) and posts an ordinary job there, which runs on no QPU and
whose `estimated_running_time_seconds` (`job.usage_estimation`) is the estimate. qrun tags
it `qrun-dry-run` and never `qrun`, so no adoption by tag or stray listing can take it for
a run's job, and cancels it once the estimate is read.

Best effort and bounded: the plan never fails over it; it says why there is none.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from runner.backends.ibm_client import IbmSettings, guard
from runner.deadline import seconds_from_env
from runner.errors import QrunError

DRY_RUN_TAGS = ("qrun-dry-run",)
WAIT_VARIABLE = "QRUN_DRY_RUN_SECONDS"
DEFAULT_WAIT = 20.0  # seconds to wait for each estimate
POLL_SECONDS = 0.5
FINAL = ("DONE", "ERROR", "CANCELLED")


@dataclass(frozen=True)
class ServiceEstimate:
    """The service's estimate (QPU seconds), or why there is none."""

    seconds: float | None = None
    reason: str | None = None


def wait_seconds(environ: Mapping[str, str]) -> float | None:
    """How long to wait for each estimate; None when dry runs are off."""
    if environ.get(WAIT_VARIABLE, "").strip().lower() == "off":
        return None
    return seconds_from_env(environ, WAIT_VARIABLE, DEFAULT_WAIT)


def service_estimate(settings: IbmSettings, spec: Any, wait: float) -> ServiceEstimate:
    """The service's estimate for one spec variant's submission (every job of it summed)."""
    if not settings.token:
        return ServiceEstimate(reason="no IBM credentials (IBM_QUANTUM_TOKEN is not set)")
    try:
        jobs = _submit(settings, spec)
        seconds = [_estimate(settings, job, time.monotonic() + wait) for job in jobs]
    except QrunError as exc:
        return ServiceEstimate(reason=str(exc))
    except Exception as exc:  # boundary: an estimate is optional, the plan goes on
        return ServiceEstimate(reason=settings.scrub(f"{type(exc).__name__}: {exc}")[:300])
    if any(s is None for s in seconds):
        return ServiceEstimate(reason=f"the dry run gave no estimate within {wait:g} s")
    return ServiceEstimate(seconds=float(sum(s for s in seconds if s is not None)))


def _submit(settings: IbmSettings, spec: Any) -> list[Any]:
    """The dry-run jobs: the circuits transpiled as apply would, one job per part."""
    from runner.backends.ibm import IbmBackend, chunks
    from runner.backends.primitives import make_primitive, make_pubs
    from runner.backends.transpile import apply_layout_to_observables, transpile_for
    from runner.execute import build_request

    request = build_request(spec, "0000-dryrun00")
    device = IbmBackend(settings, request.target).device(request.min_qubits)
    isa, _ = transpile_for(request.circuits, device, request.optimization_level, request.seed)
    observables = [
        apply_layout_to_observables(job.observables, circuit) if job.observables else []
        for job, circuit in zip(request.circuits, isa, strict=True)
    ]
    pubs = make_pubs(request, isa, observables)
    jobs = []
    for part in chunks(pubs, settings.max_circuits_per_job):
        primitive = make_primitive(request, device)
        primitive.options.environment.job_tags = list(DRY_RUN_TAGS)
        run = partial(primitive.run, part, dry_run=True)
        jobs.append(guard(settings, "submit the dry run", run, create=True))
    return jobs


def _estimate(settings: IbmSettings, job: Any, until: float) -> float | None:
    """The job's estimated QPU seconds once it is final (or at the time limit); a dry-run
    job still pending then is cancelled, so it holds none of the instance's job slots."""
    status = str(guard(settings, "poll the dry run", job.status))
    while status not in FINAL and time.monotonic() < until:
        time.sleep(POLL_SECONDS)
        status = str(guard(settings, "poll the dry run", job.status))
    usage = guard(settings, "read the dry run's estimate", lambda: job.usage_estimation)
    if status not in FINAL:
        _cancel_quietly(settings, job)
    seconds = (usage or {}).get("quantum_seconds")
    return float(seconds) if seconds is not None else None


def _cancel_quietly(settings: IbmSettings, job: Any) -> None:
    with suppress(QrunError):  # it runs on no QPU and ends by itself
        guard(settings, "cancel the dry run", job.cancel)


def describe(estimate: ServiceEstimate, cost: float | None) -> str:
    """'service est. 3 QPU s ($4.80)' or 'service estimate unavailable: why'."""
    if estimate.seconds is None:
        return f"service estimate unavailable: {estimate.reason}"
    money = f" (${cost:,.2f})" if cost is not None else ""
    return f"service est. {estimate.seconds:g} QPU s{money}"


def annotate(
    settings: IbmSettings,
    actions: Sequence[Any],
    specs: Mapping[str, Any],
    price_per_second: float,
    wait: float | None,
) -> list[Any]:
    """Hardware submissions with the service's estimate in their details (a number of QPU
    seconds and its cost at qrun's rate, or null and the reason)."""
    from runner.plan import Kind

    out = []
    for a in actions:
        if a.kind is not Kind.SUBMIT or a.estimate_cost is None or a.name not in specs:
            out.append(a)
            continue
        if wait is None:
            found = ServiceEstimate(reason=f"dry runs are off ({WAIT_VARIABLE}=off)")
        else:
            found = service_estimate(settings, specs[a.name].variant(a.target), wait)
        cost = None if found.seconds is None else round(found.seconds * price_per_second, 2)
        details = {
            **a.details,
            "service_estimate_qpu_seconds": found.seconds,
            "service_estimate_cost": cost,
            "service_estimate": describe(found, cost),
        }
        out.append(replace(a, details=details))
    return out
