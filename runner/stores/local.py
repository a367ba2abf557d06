"""The default result store: the COS key layout in a gitignored directory, no account needed.

Objects live at ``<root>/<bucket>/<key>``. Writes go to a temporary file in the target
directory and are moved into place with ``os.replace``, so a crash never leaves a half
object under a real key. Checksums are computed from the bytes; there is no index to drift.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from runner.errors import StoreError
from runner.files import write_atomic
from runner.stores.base import BUCKETS, Bucket, PutOutcome, StoredObject, sha256_hex
from runner.stores.config import DEFAULT_LOCAL_ROOT
from runner.stores.keys import check_key

log = logging.getLogger(__name__)


class LocalStore:
    """Idempotent, checksum-verified storage in a local directory."""

    kind = "local"

    def __init__(self, root: Path = DEFAULT_LOCAL_ROOT, repo_root: Path | None = None) -> None:
        self.repo_root = (repo_root or Path.cwd()).resolve()
        self.root = root if root.is_absolute() else self.repo_root / root
        self.uploaded = 0
        self.skipped = 0

    def _path(self, bucket: Bucket, key: str) -> Path:
        """Where an object lives; refuses keys that would escape the store directory."""
        if bucket not in BUCKETS:
            raise StoreError(f"unknown bucket {bucket!r}; valid: {', '.join(BUCKETS)}")
        try:
            check_key(key)
        except ValueError as err:
            raise StoreError(f"refusing to store {bucket}/{key}: {err}") from None
        return self.root / bucket / key

    def put(
        self, bucket: Bucket, key: str, data: bytes, content_type: str = "application/json"
    ) -> PutOutcome:
        """Write data atomically; skip when identical bytes are already stored."""
        path = self._path(bucket, key)
        digest = sha256_hex(data)
        obj = StoredObject(bucket=bucket, key=key, sha256=digest, size=len(data))
        if self.exists(bucket, key) == digest:
            self.skipped += 1
            log.debug("skip %s/%s: identical bytes already stored", bucket, key)
            return PutOutcome(obj=obj, uploaded=False)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # experiments holds copies of what the specs say, rewritten on every submit: no
            # fsync there; results (vouched for by the locks) and circuits are written once
            write_atomic(path, data, durable=bucket != "experiments")
        except OSError as err:
            raise StoreError(
                f"could not write {bucket}/{key} to {path}: {err.strerror or err}; "
                f"check that {self.root} is writable"
            ) from None
        self.uploaded += 1
        log.debug("stored %s/%s (%d bytes, sha256 %s)", bucket, key, len(data), digest)
        return PutOutcome(obj=obj, uploaded=True)

    def get(self, bucket: Bucket, key: str, sha256: str | None = None) -> bytes:
        """Read an object, verifying its checksum when the caller knows it."""
        path = self._path(bucket, key)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise StoreError(
                f"object {bucket}/{key} not found in the local store at {self._shown(path)}; "
                "a local store holds only what this machine collected: set COS_ENDPOINT "
                "to share results between runs"
            ) from None
        except OSError as err:
            raise StoreError(f"could not read {bucket}/{key}: {err.strerror or err}") from None
        actual = sha256_hex(data)
        if sha256 is not None and actual != sha256:
            raise StoreError(
                f"checksum mismatch for {bucket}/{key}: expected sha256 {sha256}, "
                f"got {actual}; the object was modified after upload; re-run `qrun store verify`"
            )
        return data

    def exists(self, bucket: Bucket, key: str) -> str | None:
        """The SHA-256 of the stored bytes, or None when there is no such object."""
        path = self._path(bucket, key)
        try:
            return sha256_hex(path.read_bytes())
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    def read(self, bucket: Bucket, key: str) -> bytes | None:
        """The stored bytes without any check, or None when there is no such object."""
        path = self._path(bucket, key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
        except OSError as err:
            raise StoreError(f"could not read {bucket}/{key}: {err.strerror or err}") from None

    def url(self, bucket: Bucket, key: str) -> str:
        """The object's path relative to the repository root (absolute when outside it)."""
        path = self._path(bucket, key)
        return self._shown(path)

    def abort_stale_uploads(self, before: datetime) -> list[str]:
        """Nothing to abort: local writes are atomic renames, never uploads in parts."""
        return []

    def _shown(self, path: Path) -> str:
        try:
            return path.relative_to(self.repo_root).as_posix()
        except ValueError:
            return path.as_posix()
