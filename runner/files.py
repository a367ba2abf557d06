"""Atomic, change-aware file writes: nothing half-written after a crash, no needless churn."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _file_mode() -> int:
    """The mode open() would give a new file (mkstemp alone leaves it owner-only)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_atomic(path: Path, data: str | bytes, *, durable: bool = True) -> bool:
    """Replace path's content atomically (temp file beside it, fsync, rename); return False,
    touching nothing, when the content is unchanged. `durable=False` skips the fsync (the
    rename stays atomic) for files that can be rebuilt, where it would be most of the cost."""
    payload = data.encode() if isinstance(data, str) else data
    if path.exists() and path.read_bytes() == payload:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        tmp.chmod(_file_mode())
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return True
