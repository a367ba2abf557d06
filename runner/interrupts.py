"""SIGTERM unwinds qrun like Ctrl-C.

A cancelled CI job, or a supervisor stopping the runner, sends SIGTERM, whose default
action ends the process at once: no ``finally`` runs, so a multipart upload stays
incomplete (and billed) and the atomic writer's temp file stays behind. Raised as
KeyboardInterrupt instead, the same cleanups as for Ctrl-C run and qrun exits 130.
(SIGKILL cannot be caught: the next run cleans up after it.)
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises KeyboardInterrupt (main thread only; else a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
