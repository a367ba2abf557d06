"""Load one spec file: TOML syntax, the JSON Schema, then the checks a schema cannot express.

Every problem found is reported (not just the first) as file:line:col: message.
"""

from __future__ import annotations

import json
import re
import tomllib
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from runner.errors import Diagnostic, SpecError
from runner.spec import checks
from runner.spec.identity import run_identity
from runner.spec.locate import locate
from runner.spec.model import Analysis, CircuitEntry, Execution, Spec
from runner.spec.schema_errors import describe

_TOML_POS = re.compile(r"\(at line (\d+), column (\d+)\)")


@cache
def experiment_schema() -> dict[str, Any]:
    """The experiment JSON Schema shipped as package data (schemas/ holds the published copy)."""
    text = resources.files("runner").joinpath("data/experiment.schema.json").read_text("utf-8")
    return json.loads(text)


@cache
def _validator() -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(experiment_schema())


def display_path(path: Path, repo_root: Path) -> str:
    """A path as messages show it: relative to the repository when inside it."""
    try:
        return path.resolve().relative_to(repo_root.resolve()).as_posix()
    except ValueError:
        return str(path)


def parse_toml(text: str, file: str) -> dict[str, Any]:
    """tomllib with the syntax error turned into a positioned diagnostic."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = _TOML_POS.search(str(exc))
        line, col = (int(found[1]), int(found[2])) if found else (1, 1)
        reason = _TOML_POS.sub("", str(exc)).strip()
        raise SpecError([Diagnostic(file, line, col, f"TOML syntax error: {reason}")]) from None


def load_spec(path: Path, repo_root: Path) -> Spec:
    """Read, validate and normalise one spec; raise SpecError listing every problem."""
    file = display_path(path, repo_root)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError([Diagnostic(file, 1, 1, f"cannot read spec: {exc}")]) from None
    doc = parse_toml(text, file)
    positions = locate(text)
    diagnostics = [
        d
        for error in sorted(
            _validator().iter_errors(doc), key=lambda e: list(map(str, e.absolute_path))
        )
        for d in describe(error, file, positions)
    ]
    if diagnostics:
        raise SpecError(sorted(diagnostics, key=lambda d: (d.line, d.col)))
    context = checks.Context(file=file, path=path, repo_root=repo_root, positions=positions)
    return _build(doc, context)


def _build(doc: dict[str, Any], ctx: checks.Context) -> Spec:
    execution = Execution(**doc.get("execution", {}))
    entries = tuple(
        CircuitEntry(
            name=c["name"],
            template=c.get("template"),
            params=c.get("params", {}),
            sweep=c.get("sweep", {}),
            qasm=c.get("qasm"),
            observables=tuple(c.get("observables", ())),
        )
        for c in doc["circuits"]
    )
    target = doc["backend"]["target"]
    result = checks.check_spec(doc["name"], target, execution, entries, ctx)
    if result.diagnostics:
        raise SpecError(sorted(result.diagnostics, key=lambda d: (d.line, d.col)))
    normalized_execution = {
        "primitive": execution.primitive,
        "shots": execution.shots,
        "optimization_level": execution.optimization_level,
        "seed_transpiler": execution.seed_transpiler,
        "options": execution.options,
    }
    normalized_circuits = [
        {
            "name": e.name,
            "template": e.template,
            "params": result.params[i],
            "sweep": e.sweep,
            "qasm": e.qasm,
            "observables": list(e.observables),
        }
        for i, e in enumerate(entries)
    ]
    return Spec(
        name=doc["name"],
        path=ctx.path,
        description=doc.get("description", ""),
        tags=tuple(doc.get("tags", ())),
        target=target,
        min_qubits=doc["backend"].get("min_qubits"),
        execution=execution,
        entries=entries,
        circuits=tuple(result.circuits),
        analysis=Analysis(**doc.get("analysis", {})),
        run_hash=run_identity(
            target, normalized_execution, normalized_circuits, result.qasm_digests
        ),
        qasm_digests=result.qasm_digests,
    )


def find_specs(specs_dir: Path) -> list[Path]:
    """Every human-written spec under specs/ (lock files excluded), sorted."""
    return sorted(p for p in specs_dir.rglob("*.toml") if not p.name.endswith(".lock.toml"))
