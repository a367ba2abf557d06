"""The invocation's total deadline: past it, no new call to a service starts, and the calls
in flight get no more time than is left. Configured by QRUN_DEADLINE_SECONDS, so a service
that never answers cannot hold a CI concurrency group for ever."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping

from runner.errors import ServiceUnavailable, UsageError

DEFAULT_DEADLINE_SECONDS = 1200.0


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

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.ends = time.monotonic() + seconds

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Deadline:
        return cls(seconds_from_env(environ, "QRUN_DEADLINE_SECONDS", DEFAULT_DEADLINE_SECONDS))

    def remaining(self) -> float:
        return self.ends - time.monotonic()

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0

    def message(self, what: str) -> str:
        return (
            f"{what}: timed out at the invocation's deadline of {self.seconds:g} s "
            "(QRUN_DEADLINE_SECONDS); nothing was concluded, the next apply carries on"
        )

    def check(self, what: str) -> None:
        if self.expired:
            raise DeadlineExceeded(self.message(what))
