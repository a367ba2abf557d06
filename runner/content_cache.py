"""A content-addressed JSON cache in .qrun/cache/ (like DVC's state): work whose inputs'
bytes are unchanged is not done again. Purely an accelerator: a missing, corrupt or stale
cache (different environment key) is ignored, and a read-only checkout just runs slower.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import suppress
from pathlib import Path
from typing import Any

from runner.files import write_atomic

MAX_ENTRIES = 20_000


def content_key(*parts: bytes) -> str:
    """sha256 over the parts, separated so that ("ab", "c") and ("a", "bc") differ."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


class ContentCache:
    """{key: JSON value} with an environment key that invalidates everything at once."""

    def __init__(self, path: Path, environment: str) -> None:
        self.path, self.environment = path, environment
        self.entries: dict[str, Any] = {}
        self.seen: set[str] = set()  # keys looked up this time: the rest is stale
        self.dirty = False
        with suppress(OSError, ValueError, AttributeError):
            doc = json.loads(path.read_text(encoding="utf-8"))
            if doc.get("environment") == environment:
                self.entries = dict(doc.get("entries", {}))

    def get(self, key: str) -> Any:
        self.seen.add(key)
        return self.entries.get(key)

    def put(self, key: str, value: Any) -> None:
        self.seen.add(key)
        self.entries[key] = value
        self.dirty = True

    def save(self, prune: bool = True) -> None:
        """Write the cache; with prune, only what was looked up this time is kept."""
        if prune and set(self.entries) - self.seen:
            self.entries = {k: v for k, v in self.entries.items() if k in self.seen}
            self.dirty = True
        if not self.dirty or len(self.entries) > MAX_ENTRIES:
            return
        with suppress(OSError):
            # insertion order kept: cached objects must repr (and so digest) like fresh ones
            write_atomic(self.path, self._document(), durable=False)
        self.dirty = False

    def _document(self) -> str:
        """The cache as JSON; entries with no JSON form (TOML dates) are left out, found
        only when the whole document fails to serialise (rare), not checked one by one."""
        try:
            return self._dumps()
        except (TypeError, ValueError):
            self.entries = {k: v for k, v in self.entries.items() if _has_json_form(v)}
            return self._dumps()

    def _dumps(self) -> str:
        doc = {"environment": self.environment, "entries": self.entries}
        return json.dumps(doc, separators=(",", ":"))


def _has_json_form(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True
