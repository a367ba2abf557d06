"""Hostile nesting in TOML someone else wrote: a clear, positioned error, never a crash.

tomllib recurses once per array or inline-table level and dies with RecursionError a few
hundred levels down; a dotted table header 20,000 keys long parses fine but leaves a
document that every later step (schema validation, key positions, hashing) would walk
20,000 levels deep. Both become one diagnostic at the place the nesting goes too deep.
"""

from __future__ import annotations

from typing import Any

MAX_DEPTH = 32
"""Keys and indices from the document root to any value; real specs use fewer than 10."""

Path = tuple[str | int, ...]
_OPENERS, _CLOSERS = "[{", "]}"


def too_deep(doc: dict[str, Any], text: str | None = None) -> Path | None:
    """The first path longer than MAX_DEPTH (cut just past the limit), or None.

    Iterative, so a document of any depth is checked without recursion. Counting levels
    is enough to know every document qrun reads is fine; paths are built only for one
    that is not. With the TOML text the document was parsed from, most need no walk at
    all: every table or array below the root is opened by a character of its own (a `[`,
    a `{`, or the `.` after a dotted key's part), so a path has at most one key more than
    the text has of those."""
    if text is not None and text.count(".") + text.count("[") + text.count("{") < MAX_DEPTH:
        return None
    stack: list[tuple[Any, int]] = [(doc, 0)]
    while stack:
        value, level = stack.pop()
        children = value.values() if isinstance(value, dict) else value
        for child in children:
            if level >= MAX_DEPTH:
                return _first_too_deep(doc)
            if isinstance(child, (dict, list)):
                stack.append((child, level + 1))
    return None


def _first_too_deep(doc: dict[str, Any]) -> Path | None:
    stack: list[tuple[Any, Path]] = [(doc, ())]
    while stack:
        value, path = stack.pop()
        items = (
            value.items()
            if isinstance(value, dict)
            else enumerate(value)
            if isinstance(value, list)
            else ()
        )
        for key, child in items:
            if len(path) + 1 > MAX_DEPTH:
                return (*path, key)
            if isinstance(child, (dict, list)):
                stack.append((child, (*path, key)))
    return None


def deep_bracket(text: str) -> int:
    """Index of the first array or inline-table bracket more than MAX_DEPTH levels deep
    (0 when there is none), skipping strings and comments: where tomllib gave up."""
    depth, i, n = 0, 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif ch in "\"'":
            i = _string_end(text, i)
            continue
        elif ch in _OPENERS:
            depth += 1
            if depth > MAX_DEPTH:
                return i
        elif ch in _CLOSERS:
            depth = max(0, depth - 1)
        i += 1
    return 0


def _string_end(text: str, i: int) -> int:
    """Index just past the string starting at i (basic or literal, one line or three quotes)."""
    quote = text[i]
    if text.startswith(quote * 3, i):
        end = text.find(quote * 3, i + 3)
        return len(text) if end < 0 else end + 3
    j = i + 1
    while j < len(text) and text[j] not in (quote, "\n"):
        j += 2 if quote == '"' and text[j] == "\\" else 1
    return j + 1


def shown(path: Path, keep: int = 4) -> str:
    """A long path as a short readable one: a.b.c.d….z."""
    parts = [str(p) for p in path]
    if len(parts) <= keep + 1:
        return ".".join(parts)
    return ".".join(parts[:keep]) + "…" + parts[-1]
