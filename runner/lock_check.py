"""The lock file's JSON Schema check: a compiled validator (fastjsonschema, once per
process) answers the common case, a valid lock, quickly; jsonschema is imported only to
say what is wrong with an invalid one."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from runner.errors import Diagnostic, SpecError


@cache
def lock_schema() -> dict[str, Any]:
    text = resources.files("runner").joinpath("data/lock.schema.json").read_text("utf-8")
    return json.loads(text)


@cache
def _fast_validator() -> Any:
    """Compiled check for the common case (a valid lock); messages come from jsonschema."""
    from runner.fast_schema import compile_check

    return compile_check(lock_schema())


def validate_lock_document(doc: dict[str, Any], file: str) -> None:
    """Raise SpecError naming the file and where the document breaks the lock schema."""
    import fastjsonschema

    try:
        _fast_validator()(doc)
        return
    except fastjsonschema.JsonSchemaException as exc:
        fast_error = exc
    from jsonschema import Draft202012Validator

    # formats checked too (timestamps): the fast validator does, and plan parses them
    checker = Draft202012Validator.FORMAT_CHECKER
    errors = list(Draft202012Validator(lock_schema(), format_checker=checker).iter_errors(doc))
    found = [(e.absolute_path, e.message) for e in errors[:5]] or [((), str(fast_error))]
    raise SpecError(
        [
            Diagnostic(
                file,
                1,
                1,
                f"invalid lock file at {'/'.join(map(str, where))}: "
                f"{message}; restore it from git (`git checkout -- {file}`)",
            )
            for where, message in found
        ]
    )
