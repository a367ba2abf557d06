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
from runner.files import Containment, posix_under
from runner.spec import checks, depth, salvage
from runner.spec.cache import SpecCache
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
    """Draft 2020-12, except that 4096.0 is not an integer: TOML keeps them apart, and so
    does the run identity (shots = 4096.0 must not be a different run from shots = 4096)."""
    from jsonschema import Draft202012Validator, validators

    checker = Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _, value: isinstance(value, int) and not isinstance(value, bool)
    )
    strict = validators.extend(Draft202012Validator, type_checker=checker)
    return strict(experiment_schema())


@cache
def _resolved(root: Path) -> Path:
    return root.resolve()


def display_path(path: Path, repo_root: Path) -> str:
    """A path as messages show it: relative to the repository when inside it."""
    shown = posix_under(str(path.absolute()), str(_resolved(repo_root)))
    if shown is not None:
        return shown
    try:
        return path.absolute().relative_to(_resolved(repo_root)).as_posix()
    except ValueError:
        try:
            return path.resolve().relative_to(_resolved(repo_root)).as_posix()
        except ValueError:
            return str(path)


_ONE_SOURCE = [{"required": ["template"]}, {"required": ["qasm"]}]


@cache
def _fast_validator() -> Any:
    """A compiled validator (fastjsonschema) that only answers "valid?" quickly; the schema
    uses no keyword that draft 7 lacks, and errors are always re-derived with jsonschema.

    The circuits' oneOf (a template or a QASM file, exactly one) is left to `_one_source`:
    fastjsonschema checks a oneOf by raising and formatting an error per alternative, which
    was two thirds of its time on a plan over many specs."""
    import fastjsonschema

    from runner.fast_schema import compile_check

    schema = json.loads(json.dumps(experiment_schema()))  # a copy to edit
    circuit = schema["properties"]["circuits"]["items"]
    one_source = circuit.get("oneOf") == _ONE_SOURCE
    if one_source:
        del circuit["oneOf"]
    validate = compile_check(schema)

    def validate_one_source(doc: dict[str, Any]) -> None:
        validate(doc)
        if not all(("template" in c) != ("qasm" in c) for c in doc["circuits"]):
            raise fastjsonschema.JsonSchemaValueException("a circuit needs template or qasm")

    return validate_one_source if one_source else validate


_Shape = tuple[bool, dict[str, Any], Any]


def _integer_shape(schema: dict[str, Any]) -> _Shape | None:
    """Where a schema says integer: here, under which properties, under its items; None
    when nowhere below (so the check skips names, text and tags entirely)."""
    if schema.get("type") == "integer":
        return (True, {}, None)
    props = {
        key: shape
        for key, sub in schema.get("properties", {}).items()
        if (shape := _integer_shape(sub)) is not None
    }
    items = schema.get("items")
    item_shape = _integer_shape(items) if isinstance(items, dict) else None
    return (False, props, item_shape) if props or item_shape else None


@cache
def _experiment_integers() -> _Shape | None:
    return _integer_shape(experiment_schema())


def _ints_are_ints(shape: _Shape | None, value: Any) -> bool:
    """fastjsonschema accepts 4096.0 as an integer; TOML (and the run identity) does not."""
    if shape is None:
        return True
    here, props, items = shape
    if here:
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(value, dict):
        return all(_ints_are_ints(props[k], v) for k, v in value.items() if k in props)
    if isinstance(value, list) and items is not None:
        return all(_ints_are_ints(items, v) for v in value)
    return True


def schema_valid(doc: dict[str, Any]) -> bool:
    """Fast path: True when the document certainly satisfies the experiment schema."""
    import fastjsonschema

    try:
        _fast_validator()(doc)
    except fastjsonschema.JsonSchemaException:
        return False
    return _ints_are_ints(_experiment_integers(), doc)


def parse_toml(text: str, file: str) -> dict[str, Any]:
    """tomllib with the syntax error, and nesting too deep to handle, turned into a
    positioned diagnostic."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = _TOML_POS.search(str(exc))
        line, col = (int(found[1]), int(found[2])) if found else (1, 1)
        reason = _TOML_POS.sub("", str(exc)).strip()
        raise SpecError([Diagnostic(file, line, col, f"TOML syntax error: {reason}")]) from None
    except RecursionError:
        line, col = _where(text, depth.deep_bracket(text))
        raise SpecError([Diagnostic(file, line, col, _TOO_DEEP)]) from None
    deep = depth.too_deep(doc, text)
    if deep is not None:
        line, col = locate(text).value(deep)
        message = f"{depth.shown(deep)}: {_TOO_DEEP}"
        raise SpecError([Diagnostic(file, line, col, message)])
    return doc


_TOO_DEEP = (
    f"nested more than {depth.MAX_DEPTH} levels deep (tables, arrays and inline tables); "
    "a spec needs only a few levels: flatten the structure"
)


def _where(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of a character index."""
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def load_spec(
    path: Path,
    repo_root: Path,
    spec_cache: SpecCache | None = None,
    inside: Containment | None = None,
) -> Spec:
    """Read, validate and normalise one spec; raise SpecError listing every problem.

    With a cache, an unchanged spec (and unchanged QASM files) is not validated again;
    `inside` shares directory resolutions across the specs of one command."""
    file = display_path(path, repo_root)
    if not (inside or Containment(repo_root)).holds(path):
        message = (
            "spec file links outside the repository; qrun reads specs only inside it: "
            "replace the link with the file"
        )
        raise SpecError([Diagnostic(file, 1, 1, message)])
    try:
        data = path.read_bytes()
        if spec_cache is not None and (hit := spec_cache.get(path, data)) is not None:
            return hit
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError([Diagnostic(file, 1, 1, f"cannot read spec: {exc}")]) from None
    spec = _load_text(path, text, file, repo_root)
    if spec_cache is not None:
        spec_cache.put(path, data, spec)
    return spec


def _load_text(path: Path, text: str, file: str, repo_root: Path) -> Spec:
    doc = parse_toml(text, file)
    context = checks.Context(file=file, path=path, repo_root=repo_root, text=text)
    if not schema_valid(doc):
        errors = sorted(
            _validator().iter_errors(doc), key=lambda e: list(map(str, e.absolute_path))
        )
        diagnostics = [d for error in errors for d in describe(error, file, context.positions)]
        if diagnostics:  # and what the deeper checks find in the parts the schema accepted
            rest = salvage.usable(doc, salvage.rejected_paths(errors))
            deeper = checks.check_spec(rest.name, rest.targets, rest.execution, rest.entries,
                                       context, rest.indices, rest.doubts)  # fmt: skip
            every = set(diagnostics) | set(deeper.diagnostics)
            raise SpecError(sorted(every, key=lambda d: (d.line, d.col, d.message)))
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
            layout=tuple(c["layout"]) if "layout" in c else None,
        )
        for c in doc["circuits"]
    )
    written = doc["backend"]["target"]
    targets = tuple(written) if isinstance(written, list) else (written,)
    target = targets[0]
    result = checks.check_spec(doc["name"], targets, execution, entries, ctx)
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
            # only when set, so that specs without a layout keep their run identity
            **({"layout": list(e.layout)} if e.layout is not None else {}),
        }
        for i, e in enumerate(entries)
    ]
    hashes = {
        t: run_identity(t, normalized_execution, normalized_circuits, result.qasm_digests)
        for t in targets
    }
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
        run_hash=hashes[target],
        qasm_digests=result.qasm_digests,
        targets=targets,
        run_hashes=hashes,
    )


def find_specs(specs_dir: Path) -> list[Path]:
    """Every human-written spec under specs/ (lock files excluded), sorted."""
    found = (p for p in specs_dir.rglob("*.toml") if not p.name.endswith(".lock.toml"))
    return sorted(found, key=lambda p: p.parts)  # Path order, without Path.__lt__'s cost
