"""The nesting check skips its walk when a count of characters bounds a document's depth:
that bound must never hide a document nested too deep, in any of the ways TOML nests."""

from __future__ import annotations

import tomllib
from collections.abc import Callable

import pytest
import tomli_w
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.errors import SpecError
from runner.spec import depth
from runner.spec.loader import parse_toml
from runner.spec.locate import locate


def dotted_key(levels: int) -> str:
    return ".".join(["a"] * levels) + " = 1\n"


def table_header(levels: int) -> str:
    return "[" + ".".join(["a"] * (levels - 1)) + "]\nk = 1\n"


def arrays(levels: int) -> str:
    return "x = " + "[" * (levels - 1) + "1" + "]" * (levels - 1) + "\n"


def inline_tables(levels: int) -> str:
    return "x = " + "{a = " * (levels - 1) + "1" + "}" * (levels - 1) + "\n"


def array_of_tables(levels: int) -> str:
    """[[a]], [[a.a]], …: every header adds a table and an array index."""
    headers = levels // 2
    text = "".join("[[" + ".".join(["a"] * n) + "]]\n" for n in range(1, headers + 1))
    return text + ("k = 1\n" if levels % 2 else "")


def subtable_of_array_element(levels: int) -> str:
    """[[a]] then [a.b.…]: the array index comes from a header elsewhere in the file."""
    return "[[a]]\n[" + ".".join(["a"] + ["b"] * (levels - 3)) + "]\nk = 1\n"


STYLES: list[Callable[[int], str]] = [
    dotted_key,
    table_header,
    arrays,
    inline_tables,
    array_of_tables,
    subtable_of_array_element,
]


def walked(doc: dict) -> depth.Path | None:
    """What the check finds without the bound: the walk over every value."""
    return depth.too_deep(doc)


@pytest.mark.parametrize("style", STYLES, ids=[s.__name__ for s in STYLES])
@pytest.mark.parametrize("levels", [depth.MAX_DEPTH - 1, depth.MAX_DEPTH, depth.MAX_DEPTH + 1])
def test_the_bound_finds_what_the_walk_finds(style: Callable[[int], str], levels: int) -> None:
    text = style(levels)
    doc = tomllib.loads(text)
    found = walked(doc)
    assert (found is not None) == (levels > depth.MAX_DEPTH), (text, found)
    assert depth.too_deep(doc, text) == found


@pytest.mark.parametrize("style", STYLES, ids=[s.__name__ for s in STYLES])
def test_a_spec_one_level_too_deep_still_gets_its_positioned_error(
    style: Callable[[int], str],
) -> None:
    text = style(depth.MAX_DEPTH + 1)
    with pytest.raises(SpecError) as caught:
        parse_toml(text, "specs/deep.toml")
    (diag,) = caught.value.diagnostics
    line, col = locate(text).value(walked(tomllib.loads(text)))  # type: ignore[arg-type]
    assert (diag.path, diag.line, diag.col) == ("specs/deep.toml", line, col)
    assert f"nested more than {depth.MAX_DEPTH} levels deep" in diag.message


@pytest.mark.parametrize("style", STYLES, ids=[s.__name__ for s in STYLES])
def test_a_spec_at_the_limit_parses(style: Callable[[int], str]) -> None:
    text = style(depth.MAX_DEPTH)
    assert parse_toml(text, "specs/deep.toml") == tomllib.loads(text)


KEYS = st.sampled_from(["a", "b", "a.b", "x y"])
VALUES = st.recursive(
    st.integers() | st.text(alphabet="ab.[{", max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(KEYS, VALUES, max_size=3))
def test_on_any_document_the_bound_agrees_with_the_walk(doc: dict) -> None:
    text = tomli_w.dumps(doc)
    assert depth.too_deep(tomllib.loads(text), text) == walked(tomllib.loads(text))
