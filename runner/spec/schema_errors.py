"""Turn JSON Schema errors into messages a person can act on, at a TOML position."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from typing import Any

from runner.errors import Diagnostic
from runner.spec.locate import Path, Positions

_TYPES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "array": "an array",
    "object": "a table",
}
_HINTS = {
    ("execution", "shots"): "lower shots or split the spec",
    ("name",): "use lowercase letters, digits, '.', '_' and '-'",
    ("circuits", "name"): "use lowercase letters, digits, '_' and '-'",
    ("backend", "target"): "e.g. 'local:aer', 'local:fake_fez', 'ibm_fez' or 'least_busy'",
    ("execution", "schedule"): "use daily, weekly, monthly or a 5-field cron expression (UTC)",
    ("qasm",): "use a path relative to the spec file, inside the repository",
    ("circuits", "observables"): "write one Pauli letter (I, X, Y, Z) per qubit, qubit 0 rightmost",
}


def dotted(path: Path) -> str:
    """circuits[2].params.p: how a path reads in messages."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "the document"


def did_you_mean(word: str, choices: list[str]) -> str:
    """A 'did you mean' suffix, empty when nothing is close."""
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _with_hint(path: Path, message: str) -> str:
    key = tuple(p for p in path if isinstance(p, str))
    hint = _HINTS.get(key[-2:]) or _HINTS.get(key[-1:])
    return f"{message}; {hint}" if hint else message


def describe(error: Any, file: str, positions: Positions) -> Iterator[Diagnostic]:
    """One or more diagnostics for a jsonschema ValidationError."""
    path: Path = tuple(error.absolute_path)
    name = dotted(path)
    kind, expected, got = error.validator, error.validator_value, error.instance
    if kind == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        for key in sorted(set(got) - set(allowed)):
            line, col = positions.key((*path, key))
            where = f"[{name}]" if path else "the spec"
            msg = f"unknown key '{key}' in {where}{did_you_mean(key, allowed)}"
            yield Diagnostic(file, line, col, f"{msg} Valid keys: {', '.join(allowed)}")
        return
    if kind == "required":
        missing = [k for k in expected if k not in got]
        line, col = positions.key(path)
        where = f"[{name}]" if path else "the spec"
        for key in missing:
            yield Diagnostic(file, line, col, f"missing required key '{key}' in {where}")
        return
    if kind == "anyOf":  # a target name or a list of them: explain the branch that was meant
        branch = 1 if isinstance(got, list) else 0
        chosen = [e for e in error.context if e.relative_schema_path[0] == branch]
        if chosen and isinstance(got, str | list):
            for sub in chosen[:3]:
                yield from describe(sub, file, positions)
            return
    line, col = positions.value(path)
    if kind == "anyOf":
        msg = f"{name} must be a string or an array of strings (got {_show(got)})"
    elif kind == "type":
        types = expected if isinstance(expected, list) else [expected]
        want = " or ".join(_TYPES.get(str(t), str(t)) for t in types)
        msg = f"{name} must be {want} (got {_show(got)})"
    elif kind in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        op = {"minimum": "≥", "exclusiveMinimum": ">", "maximum": "≤", "exclusiveMaximum": "<"}
        msg = f"{name} must be {op[kind]} {expected} (got {_show(got)})"
        msg = _with_hint(path, msg) if kind.endswith("aximum") else msg  # hints say "lower"
    elif kind == "enum":
        choices = [str(c) for c in expected]
        msg = f"{name} must be one of {', '.join(choices)} (got {_show(got)})"
        msg += did_you_mean(str(got), choices)
    elif kind == "pattern":
        msg = _with_hint(path, f"{name} {_show(got)} is not valid (expected to match {expected})")
    elif kind == "oneOf" and path and path[0] == "circuits":
        line, col = positions.key(path)
        msg = f"{name} needs exactly one of 'template' or 'qasm'"
    elif kind in ("minItems", "maxItems", "minProperties", "maxProperties"):
        bound = "at least" if kind.startswith("min") else "at most"
        unit = "items" if kind.endswith("Items") else "keys"
        msg = f"{name} must have {bound} {expected} {unit} (got {len(got)})"
    elif kind == "uniqueItems":
        msg = f"{name} has duplicate items"
    elif kind in ("maxLength", "minLength"):
        bound = "at most" if kind == "maxLength" else "at least"
        msg = f"{name} must be {bound} {expected} characters (got {len(got)})"
    else:
        msg = f"{name}: {error.message}"
    yield Diagnostic(file, line, col, msg)
