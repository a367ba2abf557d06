"""Whether an experiment page is up to date, without rendering it: a digest of its inputs.

A page is a pure function of the spec's text fields, the lock (whose object checksums
pin the stored results) and the renderer version, so hashing those is enough.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from runner.lock import Lock
from runner.reanalyse import ANALYSIS_VERSION

if TYPE_CHECKING:
    from runner.config import Config
    from runner.inputs import Inputs
    from runner.spec.model import Spec

RENDER_VERSION = 16
MARKER = "<!-- qrun:digest {} -->"
_MARKER_RE = re.compile(r"<!-- qrun:digest ([0-9a-f]{64}) -->")


def page_digest(spec: Spec | None, lock: Lock) -> str:
    """sha256 of everything an experiment page depends on."""
    # reprs of frozen dataclasses are deterministic and far cheaper than asdict + JSON;
    # a change in their shape changes the digest, which only causes one re-render.
    spec_part = None
    if spec is not None:
        spec_part = (
            spec.name,
            spec.description,
            spec.tags,
            spec.target,
            spec.execution,
            spec.analysis,
            spec.run_hash,
            tuple(c.circuit_id for c in spec.circuits),
        )
    text = repr((RENDER_VERSION, ANALYSIS_VERSION, spec_part, lock))
    return hashlib.sha256(text.encode()).hexdigest()


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
        if name not in found:
            found[name] = page_digest(None, lock)  # archived: spec removed, lock kept
    return found
