"""The one seam all human and machine output goes through.

Text on a terminal uses rich (colour, tables, progress); in CI or when piped it prints
plain lines; `--format json` emits one versioned JSON envelope at the end. Under GitHub
Actions, diagnostics also become workflow annotations.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TextIO

from runner.errors import Diagnostic

JSON_ENVELOPE_VERSION = 1
MAX_ANNOTATIONS = 10  # GitHub shows at most 10 annotations of each kind per step


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


class Output:
    """Where commands write; constructed once per invocation from the CLI flags."""

    def __init__(
        self,
        fmt: str = "text",
        stream: TextIO | None = None,
        environ: dict[str, str] | None = None,
        quiet: bool = False,
    ) -> None:
        env = os.environ if environ is None else environ
        self.format = fmt
        self.stream = stream or sys.stdout
        self.quiet = quiet
        self.github = env.get("GITHUB_ACTIONS") == "true"
        self.fancy = fmt == "text" and self.stream.isatty() and env.get("CI") != "true"
        self._annotations: dict[str, int] = {}
        self._console: Any = None

    def console(self) -> Any:
        """A rich console on the same stream (imported only when text goes to a terminal)."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(file=self.stream, highlight=False, soft_wrap=True)
        return self._console

    def line(self, text: str = "") -> None:
        """A line of human text (suppressed in JSON mode and with --quiet)."""
        if self.format == "json" or self.quiet:
            return
        if self.fancy:
            self.console().print(text, markup=False)
        else:
            print(text, file=self.stream)

    def raw(self, text: str) -> None:
        """Text written verbatim, whatever the mode (Markdown documents, JSON)."""
        self.stream.write(text if text.endswith("\n") else text + "\n")

    def table(
        self, headers: Sequence[str], rows: Sequence[Sequence[object]], title: str = ""
    ) -> None:
        """A table: rich on a terminal, aligned plain text otherwise."""
        if self.format == "json" or self.quiet:
            return
        if self.fancy:
            from rich.table import Table

            table = Table(*headers, title=title or None)
            for row in rows:
                table.add_row(*(str(c) for c in row))
            self.console().print(table)
            return
        cells = [list(map(str, headers)), *[[str(c) for c in row] for row in rows]]
        widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
        if title:
            print(title, file=self.stream)
        for n, row in enumerate(cells):
            print(
                "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip(),
                file=self.stream,
            )
            if n == 0:
                print("  ".join("-" * w for w in widths), file=self.stream)

    def diagnostic(self, diag: Diagnostic, level: str = "error") -> None:
        """A file:line:col problem; also a GitHub annotation under Actions (first 10 per kind)."""
        if self.format != "json":
            print(str(diag), file=sys.stderr if self.stream is sys.stdout else self.stream)
        self.annotate(level, diag.message, diag.path, diag.line, diag.col)

    def annotate(
        self,
        level: str,
        message: str,
        file: str | None = None,
        line: int | None = None,
        col: int | None = None,
    ) -> None:
        """Emit ::error/::warning/::notice workflow commands under GitHub Actions."""
        if not self.github:
            return
        count = self._annotations.get(level, 0) + 1
        self._annotations[level] = count
        if count > MAX_ANNOTATIONS:
            return
        props = [
            f"{k}={_escape_property(str(v))}"
            for k, v in (("file", file), ("line", line), ("col", col))
            if v is not None
        ]
        head = f"{level} {','.join(props)}" if props else level
        print(
            f"::{head}::{_escape_data(message)}",
            file=self.stream,
        )

    def annotation_summary(self) -> None:
        """GitHub hides annotations past 10 per kind: say how many were not shown."""
        for level, count in sorted(self._annotations.items()):
            if count > MAX_ANNOTATIONS:
                print(
                    f"::{level}::{count - MAX_ANNOTATIONS} more {level}s not shown as "
                    "annotations; see the job log",
                    file=self.stream,
                )

    def envelope(self, command: str, ok: bool, data: Any, **extra: Any) -> None:
        """The versioned JSON result of a command (only in --format json); extra keys sit
        beside data (plan's `matrix`)."""
        if self.format == "json":
            doc = {"version": JSON_ENVELOPE_VERSION, "command": command, "ok": ok, "data": data}
            doc.update(extra)
            self.raw(json.dumps(doc, indent=2, sort_keys=True, default=str))

    @contextmanager
    def progress(self, description: str, total: int) -> Iterator[Any]:
        """A progress bar on a terminal; plain 'n/total' lines in CI."""
        if self.fancy:
            from rich.progress import Progress

            with Progress(console=self.console(), transient=True) as bar:
                task = bar.add_task(description, total=total)
                yield lambda label="": bar.update(
                    task, advance=1, description=f"{description} {label}"
                )
            return
        state = {"n": 0}

        def advance(label: str = "") -> None:
            state["n"] += 1
            self.line(f"{description} [{state['n']}/{total}] {label}".rstrip())

        yield advance
