"""Validated specs cached by content: a spec whose bytes (and referenced QASM files) are
unchanged is not parsed and validated again. The environment key covers the qrun version,
the schema and the template library, so changing any of them invalidates every entry."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

from runner.content_cache import ContentCache, content_key
from runner.spec.model import Analysis, CircuitEntry, Execution, ExpandedCircuit, Spec

CACHE_VERSION = 1


@cache
def _environment_key() -> str:
    """What else a validation result depends on: qrun, the schema, the template library."""
    from runner import __version__
    from runner.spec.loader import experiment_schema
    from runner.templates.registry import TEMPLATES

    templates = {name: t.params_schema for name, t in TEMPLATES.items()}
    doc = [CACHE_VERSION, __version__, experiment_schema(), templates]
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def _to_json(spec: Spec) -> dict[str, Any]:
    """Shallow and fast (dataclasses.asdict deep-copies everything): values are shared,
    never mutated, and serialised once when the cache is saved."""
    doc = dict(vars(spec))
    doc.update(
        path=str(spec.path),
        tags=list(spec.tags),
        targets=list(spec.targets),
        execution=dict(vars(spec.execution)),
        analysis=dict(vars(spec.analysis)),
        entries=[{**vars(e), "observables": list(e.observables)} for e in spec.entries],
        circuits=[{**vars(c), "observables": list(c.observables)} for c in spec.circuits],
    )
    return doc


def _layout(value: list[int] | None) -> tuple[int, ...] | None:
    return None if value is None else tuple(value)


def _from_json(doc: dict[str, Any]) -> Spec:
    return Spec(
        **{
            **doc,
            "path": Path(doc["path"]),
            "tags": tuple(doc["tags"]),
            "targets": tuple(doc["targets"]),
            "execution": Execution(**doc["execution"]),
            "analysis": Analysis(**doc["analysis"]),
            "entries": tuple(
                CircuitEntry(
                    **{
                        **e,
                        "observables": tuple(e["observables"]),
                        "layout": _layout(e.get("layout")),
                    }
                )
                for e in doc["entries"]
            ),
            "circuits": tuple(
                ExpandedCircuit(
                    **{
                        **c,
                        "observables": tuple(c["observables"]),
                        "layout": _layout(c.get("layout")),
                    }
                )
                for c in doc["circuits"]
            ),
        }
    )


class SpecCache:
    """Validated specs by content (spec bytes, plus the referenced QASM files' digests)."""

    def __init__(self, repo_root: Path) -> None:
        self.store = ContentCache(repo_root / ".qrun" / "cache" / "specs.json", _environment_key())

    def get(self, path: Path, data: bytes) -> Spec | None:
        entry = self.store.get(content_key(str(path).encode(), data))
        if entry is None:
            return None
        for rel, digest in entry["qasm_digests"].items():
            try:
                current = hashlib.sha256((path.parent / rel).read_bytes()).hexdigest()
            except OSError:
                return None
            if current != digest:
                return None
        try:
            return _from_json(entry)
        except (TypeError, KeyError):
            return None

    def put(self, path: Path, data: bytes, spec: Spec) -> None:
        # TOML dates and times have no JSON form: the cache leaves such specs out when saving
        self.store.put(content_key(str(path).encode(), data), _to_json(spec))

    def save(self, prune: bool = True) -> None:
        self.store.save(prune)
