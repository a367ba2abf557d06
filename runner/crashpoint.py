"""Test hook: ``QRUN_CRASH_AT=<step>[@N]`` kills qrun with SIGKILL at a named step.

The fault tests run `qrun apply` in a subprocess and need it to die at an exact point the
way a CI runner losing its machine does: no ``finally``, no ``atexit``, nothing flushed.
Steps: ``push`` (just before each ``git push``, i.e. after its commit) and
``write:<file name>`` (inside the atomic writer, after the temp file is written and before
it is renamed into place). ``@N`` picks the N-th time the step is reached (default 1).
Unset, as it always is outside tests, this does nothing.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

_reached: Counter[str] = Counter()


def crash_point(step: str) -> None:
    """Die here if QRUN_CRASH_AT names this step (and this is its N-th occurrence)."""
    wanted = os.environ.get("QRUN_CRASH_AT")
    if not wanted:
        return
    name, _, nth = wanted.partition("@")
    if name != step:
        return
    _reached[step] += 1
    if _reached[step] == int(nth or "1"):
        os.kill(os.getpid(), signal.SIGKILL)
