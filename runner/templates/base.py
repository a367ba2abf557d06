"""The template contract: a named, schema-described, deterministic circuit builder.

Nothing here imports qiskit: the validator resolves parameters, checks them and computes a
template's width (to compare with the backend size and observable lengths) without paying
for a qiskit import. Only ``build`` touches qiskit, and it imports it lazily.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from runner.errors import QrunError

if TYPE_CHECKING:
    from jsonschema import ValidationError
    from qiskit import QuantumCircuit

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

WidthFn = Callable[[Mapping[str, Any]], int]
CheckFn = Callable[[Mapping[str, Any]], list[str]]
BuildFn = Callable[..., "QuantumCircuit"]


class TemplateError(QrunError):
    """Template parameters are invalid; carries every problem found, not just the first."""

    def __init__(self, template: str, problems: list[str]) -> None:
        self.template = template
        self.problems = problems
        super().__init__(f"template '{template}': " + "; ".join(problems))


def _no_checks(params: Mapping[str, Any]) -> list[str]:
    """Default semantic check: the JSON Schema says everything there is to say."""
    return []


def _unknown_key(key: str, known: Mapping[str, Any]) -> str:
    """An unknown parameter name, with the closest valid one when there is one."""
    close = difflib.get_close_matches(key, known, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return f"unknown parameter '{key}'.{hint} Valid: {', '.join(known) or '(none)'}"


def _json_path(path: Iterable[str | int]) -> str:
    """``edges[0][1]`` rather than jsonschema's deque of keys and indices."""
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


def _error_order(error: ValidationError) -> list[str]:
    """Stable ordering of schema errors by where they point (mixed str/int paths)."""
    return [str(part) for part in error.absolute_path]


def params_schema(title: str, properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict:
    """Wrap property schemas into a closed 2020-12 object schema (unknown keys are errors)."""
    schema: dict[str, Any] = {
        "$schema": SCHEMA_DIALECT,
        "title": title,
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        schema["required"] = list(required)
    return schema


_VALIDATED: dict[tuple[str, str], tuple[str, ...]] = {}
_VALIDATORS: dict[str, Any] = {}
_FAST: dict[str, Callable[[Any], Any]] = {}


def _validator_for(name: str, schema: dict) -> Any:
    """One compiled jsonschema validator per template: it words the problems."""
    if name not in _VALIDATORS:
        from jsonschema import Draft202012Validator

        _VALIDATORS[name] = Draft202012Validator(schema)
    return _VALIDATORS[name]


def _is_valid(name: str, schema: dict, params: Mapping[str, Any]) -> bool:
    """Fast path: a compiled check (fastjsonschema, once per template and process) that only
    answers whether the parameters are valid; jsonschema is imported only to word problems."""
    import fastjsonschema

    from runner.fast_schema import compile_check

    if name not in _FAST:
        _FAST[name] = compile_check(schema, use_default=False)
    try:
        _FAST[name](params)
    except fastjsonschema.JsonSchemaException:  # the slow path says why
        return False
    return True


@dataclass(frozen=True)
class Template:
    """One circuit family: ``build(measure=True, **params)`` returns a ``QuantumCircuit``.

    ``build`` fills defaults and validates before constructing, so a caller can pass the
    spec's parameters as written. Same parameters, same circuit, bit for bit.
    """

    name: str
    description: str
    params_schema: dict
    build: BuildFn
    width_of: WidthFn = field(repr=False)
    check_params: CheckFn = field(default=_no_checks, repr=False)
    analysis: str | None = None  # run-level analysis over the entry's circuits (runner.fits)

    def defaults(self) -> dict:
        """Parameter defaults declared in the schema (some defaults depend on other params)."""
        props = self.params_schema.get("properties", {})
        return {key: copy.deepcopy(p["default"]) for key, p in props.items() if "default" in p}

    def resolve(self, params: Mapping[str, Any]) -> dict:
        """The parameters a build would use: schema defaults overlaid with ``params``."""
        return {**self.defaults(), **params}

    def validate(self, params: Mapping[str, Any]) -> list[str]:
        """Every problem with ``params``: unknown keys and JSON Schema errors, then cross-field
        checks (those assume a schema-valid input, so they only run when it is).

        Memoised on the canonical JSON of the parameters: a repository repeats the same
        template parameters across many specs and sweep points."""
        # repr: equal reprs mean equal values here (TOML's types), and it costs far less
        key = (self.name, repr(sorted(params.items())))
        if key not in _VALIDATED:
            if len(_VALIDATED) > 10_000:
                _VALIDATED.clear()
            _VALIDATED[key] = tuple(self._validate(params))
        return list(_VALIDATED[key])

    def _validate(self, params: Mapping[str, Any]) -> list[str]:
        """Every problem with ``params``: unknown keys and JSON Schema errors, then cross-field
        checks (those assume a schema-valid input, so they only run when it is)."""

        resolved = self.resolve(params)
        if _is_valid(self.name, self.params_schema, resolved):
            return self.check_params(resolved)
        known = self.params_schema.get("properties", {})
        problems = [_unknown_key(key, known) for key in resolved if key not in known]
        validator = _validator_for(self.name, self.params_schema)
        for error in sorted(validator.iter_errors(resolved), key=_error_order):
            if error.validator == "additionalProperties" and not error.absolute_path:
                continue  # reported above, with a hint
            where = _json_path(error.absolute_path)
            problems.append(f"{where}: {error.message}" if where else error.message)
        if problems:
            return problems
        return self.check_params(resolved)

    def width(self, params: Mapping[str, Any]) -> int:
        """Number of qubits the built circuit will have, computed without qiskit."""
        resolved = self.resolve(params)
        problems = self.validate(resolved)
        if problems:
            raise TemplateError(self.name, problems)
        return self.width_of(resolved)


def make_template(
    name: str,
    description: str,
    schema: dict,
    builder: Callable[..., QuantumCircuit],
    width_of: WidthFn,
    check_params: CheckFn = _no_checks,
    analysis: str | None = None,
) -> Template:
    """Bind a raw builder (which trusts its input) behind defaults and validation."""

    def build(measure: bool = True, **params: Any) -> QuantumCircuit:
        resolved = template.resolve(params)
        problems = template.validate(resolved)
        if problems:
            raise TemplateError(name, problems)
        circuit = builder(**resolved)
        circuit.name = name
        if measure:
            circuit.measure_all()
        return circuit

    build.__doc__ = f"Build the '{name}' circuit: {description}"
    template = Template(name, description, schema, build, width_of, check_params, analysis)
    return template
