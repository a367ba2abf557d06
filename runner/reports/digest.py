"""Whether an experiment page is up to date, without rendering it: a digest of its inputs.

A page is a pure function of the spec's text fields, the lock (whose object checksums
pin the stored results) and the renderer version, so hashing those is enough.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from runner.lock import Lock, to_document

if TYPE_CHECKING:
    from runner.config import Config
    from runner.inputs import Inputs
    from runner.spec.model import Spec

RENDER_VERSION = 1
MARKER = "<!-- qrun:digest {} -->"
_MARKER_RE = re.compile(r"<!-- qrun:digest ([0-9a-f]{64}) -->")


def page_digest(spec: Spec | None, lock: Lock) -> str:
    """sha256 of everything an experiment page depends on."""
    spec_part = None
    if spec is not None:
        spec_part = {
            "name": spec.name,
            "description": spec.description,
            "tags": list(spec.tags),
            "target": spec.target,
            "execution": asdict(spec.execution),
            "analysis": asdict(spec.analysis),
            "run_hash": spec.run_hash,
            "circuits": [c.circuit_id for c in spec.circuits],
        }
    doc = {"v": RENDER_VERSION, "spec": spec_part, "lock": to_document(lock)}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


def read_digest(page: Path) -> str | None:
    """The digest embedded in a generated page, or None when it is missing or not ours."""
    try:
        with page.open(encoding="utf-8") as handle:
            head = handle.read(4096)
    except OSError:
        return None
    found = _MARKER_RE.search(head)
    return found[1] if found else None


def read_digests(reports_dir: Path, names: Iterable[str]) -> dict[str, str | None]:
    return {name: read_digest(reports_dir / f"{name}.md") for name in names}


def expected_digests(config: Config, inputs: Inputs) -> Mapping[str, str]:
    """What each experiment page's digest should be now."""
    found = {s.name: page_digest(s, inputs.locks.get(s.name, Lock(s.name))) for s in inputs.specs}
    for name, lock in inputs.locks.items():
        found.setdefault(name, page_digest(None, lock))  # archived: spec removed, lock kept
    return found
