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
    """Replace path's content atomically (temp file beside it, fsync, rename, fsync of the
    directory so the rename itself survives a crash); return False, touching nothing, when
    the content is unchanged. `durable=False` skips both fsyncs (the rename stays atomic)
    for files that can be rebuilt, where they would be most of the cost."""
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
    if durable:
        _fsync_directory(path.parent)
    return True


def _fsync_directory(directory: Path) -> None:
    """Make a rename in `directory` durable (POSIX; a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on directories; the data itself is synced
    finally:
        os.close(fd)
