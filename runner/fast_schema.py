"""Compiled JSON Schema checks that only answer "valid?", quickly (fastjsonschema).

Every schema qrun ships is written in draft 2020-12 and worded by jsonschema when a document
is invalid; the compiled copy is its draft 7 form (fastjsonschema's newest draft), with the
annotations (descriptions, titles) left out and no detailed exceptions: the generated
source otherwise copies every subschema, descriptions included, and took four times as
long to compile (about 20 ms for the spec schema on every cold plan). Each
schema is compiled once per process by its caller.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

DRAFT_7 = "http://json-schema.org/draft-07/schema#"
ANNOTATIONS = frozenset({"description", "title", "$comment", "examples", "$schema"})
NAMED = frozenset({"properties", "patternProperties", "$defs", "definitions"})


def draft7(schema: Any, names: bool = False) -> Any:
    """The schema in draft 7 without annotations: 2020-12's prefixItems and items become
    draft 7's items (a list) and additionalItems. Under `properties` (names=True) keys are
    property names, kept whatever they are called."""
    if isinstance(schema, list):
        return [draft7(v) for v in schema]
    if not isinstance(schema, dict):
        return schema
    if names:
        return {k: draft7(v) for k, v in schema.items()}
    out = {k: draft7(v, k in NAMED) for k, v in schema.items() if k not in ANNOTATIONS}
    if "prefixItems" in out:
        out["additionalItems"] = out.pop("items", True)
        out["items"] = out.pop("prefixItems")
    if "const" in out:  # the same rule; fastjsonschema 2.22 cannot compile a const check
        out["enum"] = [out.pop("const")]  # without detailed exceptions
    return out


def compile_check(schema: dict[str, Any], use_default: bool = True) -> Callable[[Any], Any]:
    """fastjsonschema's validator of the schema (raises JsonSchemaException when invalid);
    `use_default` fills in declared defaults, as it does by default. Its exceptions carry
    no copy of the value and subschema (jsonschema words the problems): half the code."""
    import fastjsonschema

    draft = {**draft7(schema), "$schema": DRAFT_7}
    return fastjsonschema.compile(draft, use_default=use_default, detailed_exceptions=False)
