"""What of a spec that fails its JSON Schema can still be checked further.

So that one `qrun validate` reports every problem: the parts the schema rejected are set
aside, and the deeper checks (templates, sweeps, QASM files, observables, layout, cron) run
on the rest. A check whose input was rejected is skipped, never run on a guess, so a schema
error is not echoed by a second message about the same value.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from runner.spec.locate import Path as KeyPath
from runner.spec.model import CircuitEntry, Execution

_IDENTITY = ("template", "qasm")  # an entry without these valid cannot be checked
_UNBUILT = ("params", "sweep")  # without these its circuits cannot be built


@dataclass(frozen=True)
class Doubts:
    """Parts that failed the schema, so the checks that read them are skipped."""

    name: bool = False
    primitive: bool = False
    unbuilt: frozenset[int] = frozenset()  # entries whose params or sweep are invalid
    observables: frozenset[int] = frozenset()  # entries whose observables list is invalid


NO_DOUBTS = Doubts()


@dataclass(frozen=True)
class Usable:
    """The schema-valid remainder of a spec, entries with their index in the file."""

    name: str
    targets: tuple[str, ...]
    execution: Execution
    entries: tuple[CircuitEntry, ...]
    indices: tuple[int, ...]
    doubts: Doubts = field(default_factory=Doubts)


def rejected_paths(errors: Iterable[Any]) -> set[KeyPath]:
    """The document paths jsonschema errors point at; an unknown key or a missing one is
    its own path (the table around it is otherwise fine)."""
    paths: set[KeyPath] = set()
    for error in errors:
        path: KeyPath = tuple(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            allowed = error.schema.get("properties", {})
            paths.update((*path, key) for key in error.instance if key not in allowed)
        elif error.validator == "required" and isinstance(error.instance, dict):
            paths.update((*path, key) for key in error.validator_value if key not in error.instance)
        else:
            paths.add(path)
    return paths


def _under(paths: set[KeyPath], *prefix: Any) -> list[KeyPath]:
    return [p for p in paths if p[: len(prefix)] == prefix]


def usable(doc: dict[str, Any], rejected: set[KeyPath]) -> Usable:
    """The parts of doc no rejected path touches (see the module docstring)."""
    if () in rejected:
        return Usable("", (), Execution(), (), (), Doubts(name=True))
    name = doc.get("name")
    backend = doc.get("backend")
    written = backend.get("target") if isinstance(backend, dict) else None
    targets: tuple[str, ...] = ()
    if written is not None and not _under(rejected, "backend", "target"):
        targets = tuple(written) if isinstance(written, list) else (written,)
    written_execution = doc.get("execution", {})
    execution = Execution()
    if isinstance(written_execution, dict) and ("execution",) not in rejected:
        kept = {k: v for k, v in written_execution.items() if not _under(rejected, "execution", k)}
        execution = Execution(**kept)
    entries, indices, unbuilt, no_observables = [], [], set(), set()
    circuits = doc.get("circuits")
    for index, raw in enumerate(circuits if isinstance(circuits, list) else ()):
        bad = {p[2] for p in _under(rejected, "circuits", index) if len(p) > 2}
        if not isinstance(raw, dict) or ("circuits", index) in rejected or bad & set(_IDENTITY):
            continue
        if not isinstance(raw.get("name"), str):  # a bad pattern still names the entry
            continue
        if bad & set(_UNBUILT):
            unbuilt.add(index)
        observables = raw.get("observables", ())
        if "observables" in bad and ("circuits", index, "observables") in rejected:
            no_observables.add(index)
            observables = ()
        elif "observables" in bad:  # some items rejected: blank them, keep the others' places
            observables = [
                "" if _under(rejected, "circuits", index, "observables", n) else o
                for n, o in enumerate(observables)
            ]
        entries.append(
            CircuitEntry(
                name=raw["name"],
                template=raw.get("template"),
                params={} if index in unbuilt else raw.get("params", {}),
                sweep={} if index in unbuilt else raw.get("sweep", {}),
                qasm=raw.get("qasm"),
                observables=tuple(observables),
                layout=tuple(raw["layout"]) if "layout" in raw and "layout" not in bad else None,
            )
        )
        indices.append(index)
    doubts = Doubts(
        name=not isinstance(name, str) or bool(_under(rejected, "name")),
        primitive=bool(_under(rejected, "execution", "primitive")) or ("execution",) in rejected,
        unbuilt=frozenset(unbuilt),
        observables=frozenset(no_observables),
    )
    return Usable(name if isinstance(name, str) else "", targets, execution, tuple(entries),
                  tuple(indices), doubts)  # fmt: skip
