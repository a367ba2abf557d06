"""Knobs of one emulator instance; every test may start its own with different ones."""

from __future__ import annotations

from dataclasses import dataclass, field

from .execution import CostModel

DEFAULT_CRN = (
    "crn:v1:bluemix:public:quantum-computing:us-east:a/0123456789abcdef0123456789abcdef:"
    "00000000-1111-2222-3333-444444444444::"
)


@dataclass
class EmulatorConfig:
    """How the emulated service behaves.

    ``backends`` are fake backend names (``fake_fez`` is served as ``ibm_fez``); the default
    is part of IBM's current Heron fleet. ``IBMRuntimeEmulator.retire(name)`` removes one
    mid-test. ``max_pending_jobs`` is the Open Plan's pending-job cap (error 3458 past it;
    None: no cap).
    ``noisy`` runs jobs on the fake backend (device noise model) instead of noiseless Aer.
    Jobs answer Queued for ``queued_polls`` polls and Running for ``running_polls`` polls.
    ``usage_limit_seconds=None`` means no limit. ``session_modes`` lists the accepted
    ``POST /sessions`` modes: batch only by default, like IBM's Open Plan.
    """

    backends: tuple[str, ...] = ("fake_fez", "fake_kingston", "fake_marrakesh")
    max_pending_jobs: int | None = None
    plan_id: str = "open"  # /instances/usage: "open" (Open Plan, not billed) or a paid plan
    noisy: bool = False
    seed: int | None = 1234
    queued_polls: int = 1
    running_polls: int = 1
    usage_limit_seconds: int | None = 600
    usage_consumed_seconds: int = 0
    session_modes: tuple[str, ...] = ("batch",)
    token: str = "emulator-api-key-0123456789"
    crn: str = DEFAULT_CRN
    instance_name: str = "qrun-emulator"
    cost: CostModel = field(default_factory=CostModel)
