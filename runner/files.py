"""Atomic, change-aware file writes: nothing half-written after a crash, no needless churn.

The temp file sits beside its target (the rename is then atomic: same directory, same
filesystem) and is named ``.<name>.<random>.<pid>.qrun-tmp``. A process killed between
writing and renaming leaves it behind; `remove_stray_temps` deletes those of processes that
are gone, and git staging never takes them (`is_temp`).
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from runner.crashpoint import crash_point

TEMP_SUFFIX = ".qrun-tmp"
_TEMP_NAME = re.compile(r"^\..+\.(\d+)" + re.escape(TEMP_SUFFIX) + r"$")


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
    fd, name = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=f".{os.getpid()}{TEMP_SUFFIX}", dir=path.parent
    )
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        crash_point(f"write:{path.name}")
        tmp.chmod(_file_mode())
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    if durable:
        _fsync_directory(path.parent)
    return True


def resolves_inside(path: Path, root: Path) -> bool:
    """Whether path, with every symlink followed, stays inside root."""
    return path.resolve().is_relative_to(root.resolve())


def posix_under(path: str, root: str) -> str | None:
    """path relative to root as a POSIX string, by prefix (Path.relative_to costs more than
    the rest of reading a spec when a plan names thousands of files); None when not under."""
    prefix = root.rstrip(os.sep) + os.sep
    return path[len(prefix) :].replace(os.sep, "/") if path.startswith(prefix) else None


class Containment:
    """resolves_inside for the many files of a few directories, within one command: each
    directory is resolved once, and a file that is not itself a symlink costs one lstat
    (a plan over thousands of specs would otherwise resolve every path component of each)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._dirs: dict[Path, bool] = {}

    def holds(self, path: Path) -> bool:
        """Whether path, with every symlink followed, stays inside the root."""
        if path.is_symlink():
            return path.resolve().is_relative_to(self.root)
        inside = self._dirs.get(path.parent)
        if inside is None:
            inside = self._dirs[path.parent] = path.parent.resolve().is_relative_to(self.root)
        return inside


def is_temp(path: str | Path) -> bool:
    """Whether a path is one of write_atomic's temp files (never a file to commit)."""
    return _TEMP_NAME.match(Path(path).name) is not None


def remove_stray_temps(*directories: Path) -> list[Path]:
    """Delete temp files left by killed writers (their process is gone, or its pid is ours
    again); a live process's file is left alone. Returns what was removed."""
    removed = []
    for directory in directories:
        if not directory.is_dir():
            continue
        for path in sorted(directory.rglob(f"*{TEMP_SUFFIX}")):
            found = _TEMP_NAME.match(path.name)
            if found and path.is_file() and not _alive(int(found[1])):
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    """A process other than this one with that pid exists (at start, none of ours writes)."""
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
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
