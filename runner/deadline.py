"""The invocation's total deadline: past it, no new call to a service starts, and the calls
in flight get no more time than is left. Configured by QRUN_DEADLINE_SECONDS, so a service
that never answers cannot hold a CI concurrency group for ever. It ends before a claim's
lease (QRUN_STALE_CLAIM_MINUTES) would, so no runner is taken over while it still posts."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping

from runner.errors import ServiceUnavailable, UsageError

DEFAULT_DEADLINE_SECONDS = 1200.0
LEASE_SHARE = 0.9  # of a claim's lease the deadline may take (the rest: clock skew, the push)


class DeadlineExceeded(ServiceUnavailable):
    """The invocation ran out of time: nothing is concluded, the next apply carries on."""


def seconds_from_env(environ: Mapping[str, str], name: str, default: float) -> float:
    """A positive number of seconds from the environment, or a usage error naming it."""
    text = environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise UsageError(f"{name} must be a positive number of seconds (got {text!r})")
    return value


class Deadline:
    """Started once per invocation; `check` raises DeadlineExceeded naming what was cut off."""

    def __init__(self, seconds: float, why: str = "QRUN_DEADLINE_SECONDS") -> None:
        self.seconds, self.why = seconds, why
        self.ends = time.monotonic() + seconds

    @classmethod
    def from_env(cls, environ: Mapping[str, str], lease_seconds: float = 0.0) -> Deadline:
        """QRUN_DEADLINE_SECONDS, below the claim lease (when there is one): shortened to fit
        (a value set that does not fit was refused already, by check_below_lease in
        Config.load at the start of every command)."""
        seconds = seconds_from_env(environ, "QRUN_DEADLINE_SECONDS", DEFAULT_DEADLINE_SECONDS)
        fits = LEASE_SHARE * lease_seconds
        if lease_seconds and seconds > fits:
            return cls(fits, f"QRUN_DEADLINE_SECONDS, shortened to fit {_lease(lease_seconds)}")
        return cls(seconds)

    def remaining(self) -> float:
        return self.ends - time.monotonic()

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0

    def message(self, what: str) -> str:
        return (
            f"{what}: timed out at the invocation's deadline of {self.seconds:g} s "
            f"({self.why}); nothing was concluded, the next apply carries on"
        )

    def check(self, what: str) -> None:
        if self.expired:
            raise DeadlineExceeded(self.message(what))


def check_below_lease(environ: Mapping[str, str], lease_seconds: float) -> None:
    """A QRUN_DEADLINE_SECONDS set longer than the claim lease allows would let another
    runner take a claim over while its owner still posts a job: refused, naming both."""
    if not lease_seconds or not environ.get("QRUN_DEADLINE_SECONDS", "").strip():
        return
    seconds = seconds_from_env(environ, "QRUN_DEADLINE_SECONDS", DEFAULT_DEADLINE_SECONDS)
    if seconds > LEASE_SHARE * lease_seconds:
        raise UsageError(
            f"QRUN_DEADLINE_SECONDS ({seconds:g} s) must be at most {LEASE_SHARE:.0%} of "
            f"{_lease(lease_seconds)}: a runner still submitting after its lease ends can be "
            "taken over and the run submitted twice; lower QRUN_DEADLINE_SECONDS or raise "
            "QRUN_STALE_CLAIM_MINUTES"
        )


def _lease(seconds: float) -> str:
    return f"the claim lease (QRUN_STALE_CLAIM_MINUTES = {seconds / 60:g} min, {seconds:g} s)"
