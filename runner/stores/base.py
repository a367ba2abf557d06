"""The contract every result store fulfils, and the shared key layout."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

Bucket = Literal["experiments", "results", "circuits"]
BUCKETS: tuple[Bucket, ...] = ("experiments", "results", "circuits")


def sha256_hex(data: bytes) -> str:
    """Checksum recorded in locks and object metadata."""
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class StoredObject:
    """A reference to one stored object, as the lock file records it."""

    bucket: Bucket
    key: str
    sha256: str
    size: int


@dataclass(frozen=True)
class PutOutcome:
    """Result of put(): uploaded is False when an identical object already existed."""

    obj: StoredObject
    uploaded: bool


class ResultStore(Protocol):
    """Idempotent, checksum-verified object storage."""

    kind: str

    def put(
        self, bucket: Bucket, key: str, data: bytes, content_type: str = "application/json"
    ) -> PutOutcome:
        """Store data under key; skip when the same bytes are already there."""
        ...

    def get(self, bucket: Bucket, key: str, sha256: str | None = None) -> bytes:
        """Read an object; raise StoreError if missing or its checksum differs."""
        ...

    def exists(self, bucket: Bucket, key: str) -> str | None:
        """The stored SHA-256 of an object, or None when absent."""
        ...

    def read(self, bucket: Bucket, key: str) -> bytes | None:
        """The stored bytes, unchecked, or None when absent: for tools that report damage."""
        ...

    def url(self, bucket: Bucket, key: str) -> str:
        """A link to the object for reports (a COS URL or a path)."""
        ...

    def abort_stale_uploads(self, before: datetime) -> list[str]:
        """Abort uploads of qrun's keys begun before `before` and never finished (a killed
        runner's); returns "bucket/key" of each."""
        ...
