"""Our own QPU-time estimate: the service prices a job only after it is submitted.

A run costs a fixed per-job overhead plus, per circuit, shots × repetition time. The
per-shot figure starts from a documented prior and is refined by the QPU seconds that
earlier completed runs on the same backend actually used.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

JOB_OVERHEAD_SECONDS = 2.0
PRIOR_SECONDS_PER_SHOT = 0.00025  # 250 µs repetition delay on Eagle/Heron devices


@dataclass(frozen=True)
class Observed:
    """A completed run's cost, for refining the estimate."""

    backend: str
    jobs: int
    circuit_shots: int
    qpu_seconds: float


def seconds_per_shot(backend: str, history: Iterable[Observed]) -> float:
    """Per-shot QPU time on a backend: prior, or the mean of what earlier runs used."""
    samples = [
        (h.qpu_seconds - JOB_OVERHEAD_SECONDS * h.jobs) / h.circuit_shots
        for h in history
        if h.backend == backend and h.circuit_shots > 0
    ]
    samples = [s for s in samples if s > 0]
    return sum(samples) / len(samples) if samples else PRIOR_SECONDS_PER_SHOT


def estimate_qpu_seconds(
    target: str, circuits: int, shots: int, jobs: int, history: Iterable[Observed] = ()
) -> float:
    """Estimated QPU seconds of one run; local simulators cost nothing."""
    if target.startswith("local:"):
        return 0.0
    per_shot = seconds_per_shot(target, history)
    return round(JOB_OVERHEAD_SECONDS * jobs + circuits * shots * per_shot, 2)
