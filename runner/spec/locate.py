"""Source positions of TOML keys and values, so errors point at a line and column.

tomllib returns plain dicts without positions. The document has already been parsed
by tomllib when this runs, so this scanner can be lenient: it only walks the syntax far
enough to record where each key path (tuples of str keys and int indices) starts.
Paths are cut at MAX_DEPTH + 1 keys, so memory stays linear in the file size even for a
dotted header thousands of keys long (the loader rejects such a document at that point).
"""

from __future__ import annotations

import bisect
import tomllib
from dataclasses import dataclass, field

from runner.spec.depth import MAX_DEPTH

Path = tuple[str | int, ...]
_LONGEST = MAX_DEPTH + 1
_BARE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


@dataclass
class Positions:
    """Where each key (and its value) starts, 1-based line and column."""

    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def key(self, path: Path) -> tuple[int, int]:
        """Position of the key at path, or of its nearest recorded ancestor."""
        return self._nearest(self.keys, path)

    def value(self, path: Path) -> tuple[int, int]:
        """Position of the value at path, falling back to its key, then ancestors."""
        if path in self.values:
            return self.values[path]
        return self._nearest(self.keys, path)

    def _nearest(self, table: dict[Path, tuple[int, int]], path: Path) -> tuple[int, int]:
        for end in range(min(len(path), _LONGEST), 0, -1):
            prefix = path[:end]
            if prefix in table:
                return table[prefix]
            if prefix in self.values:
                return self.values[prefix]
        return (1, 1)


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.line_starts = [0] + [n + 1 for n, ch in enumerate(text) if ch == "\n"]
        self.pos = Positions()
        self.array_tables: dict[Path, int] = {}

    def where(self, index: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.line_starts, index)
        return line, index - self.line_starts[line - 1] + 1

    def peek(self, n: int = 1) -> str:
        return self.text[self.i : self.i + n]

    def skip_ws(self, newlines: bool) -> None:
        while self.i < len(self.text):
            ch = self.text[self.i]
            if ch in " \t\r" or (newlines and ch == "\n"):
                self.i += 1
            elif ch == "#":
                while self.i < len(self.text) and self.text[self.i] != "\n":
                    self.i += 1
            else:
                return

    def read_string(self) -> str:
        quote = self.text[self.i]
        if self.peek(3) == quote * 3:
            end = self.text.find(quote * 3, self.i + 3)
            end = len(self.text) if end < 0 else end
            while self.text[end + 3 : end + 4] == quote:  # up to two quotes may close it
                end += 1
            raw = self.text[self.i + 3 : end]
            self.i = end + 3
            return raw
        j = self.i + 1
        while j < len(self.text) and self.text[j] != quote and self.text[j] != "\n":
            j += 2 if (quote == '"' and self.text[j] == "\\") else 1
        raw = self.text[self.i + 1 : j]
        self.i = j + 1
        return raw

    def read_key(self) -> list[tuple[str, int]]:
        parts: list[tuple[str, int]] = []
        while True:
            self.skip_ws(newlines=False)
            start = self.i
            if self.peek() in ('"', "'"):
                raw = self.read_string()
                if self.text[start] == '"' and "\\" in raw:  # escapes: the key tomllib sees
                    raw = tomllib.loads(f'k = "{raw}"')["k"]
                parts.append((raw, start))
            else:
                while self.i < len(self.text) and self.text[self.i] in _BARE:
                    self.i += 1
                parts.append((self.text[start : self.i], start))
            self.skip_ws(newlines=False)
            if self.peek() != ".":
                return parts
            self.i += 1

    def resolve(self, base: Path, keys: list[str], header: int) -> Path:
        """The path a table header names; implicit super-tables start at that header."""
        path = base
        for key in keys[: max(0, _LONGEST - len(base))]:
            path = (*path, key)
            if path in self.array_tables:
                path = (*path, self.array_tables[path] - 1)
            self.pos.keys.setdefault(path, self.where(header))
        return path

    def document(self) -> Positions:
        current: Path = ()
        while True:
            self.skip_ws(newlines=True)
            if self.i >= len(self.text):
                return self.pos
            start = self.i
            if self.peek(2) == "[[":
                self.i += 2
                parts = self.read_key()
                parent = self.resolve((), [k for k, _ in parts[:-1]], start)
                table = (*parent, parts[-1][0])[:_LONGEST]
                self.array_tables[table] = self.array_tables.get(table, 0) + 1
                self.pos.keys.setdefault(table, self.where(start))  # the array: first header
                current = (*table, self.array_tables[table] - 1)
                self.pos.keys[current] = self.where(start)
                self.i = self.text.find("]]", self.i) + 2
            elif self.peek() == "[":
                self.i += 1
                parts = self.read_key()
                current = self.resolve((), [k for k, _ in parts], start)
                self.pos.keys.setdefault(current, self.where(start))
                self.i = self.text.find("]", self.i) + 1
            else:
                self.key_value(current)
            self._to_line_end()

    def _to_line_end(self) -> None:
        self.skip_ws(newlines=False)
        end = self.text.find("\n", self.i)
        self.i = len(self.text) if end < 0 else end

    def key_value(self, base: Path) -> None:
        parts = self.read_key()
        path = base
        for key, start in parts[: max(0, _LONGEST - len(base))]:
            path = (*path, key)
            self.pos.keys.setdefault(path, self.where(start))
        self.skip_ws(newlines=False)
        if self.peek() == "=":
            self.i += 1
        self.value(path)

    def value(self, path: Path) -> None:
        self.skip_ws(newlines=False)
        if len(path) <= _LONGEST:
            self.pos.values[path] = self.where(self.i)
        ch = self.peek()
        if ch in ('"', "'"):
            self.read_string()
        elif ch == "[":
            self.i += 1
            index = 0
            while True:
                self.skip_ws(newlines=True)
                if self.peek() in ("]", ""):
                    self.i += 1
                    return
                if self.peek() == ",":
                    self.i += 1
                    continue
                self.value((*path, index)[: _LONGEST + 1])
                index += 1
        elif ch == "{":
            self.i += 1
            while True:
                self.skip_ws(newlines=False)
                if self.peek() in ("}", "", "\n"):
                    self.i += 1
                    return
                if self.peek() == ",":
                    self.i += 1
                    continue
                self.key_value(path)
        else:
            while self.i < len(self.text) and self.text[self.i] not in ",]}\n#":
                self.i += 1


def locate(text: str) -> Positions:
    """Positions of every key and value in a TOML document already accepted by tomllib."""
    return _Scanner(text).document()
