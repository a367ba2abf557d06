"""The one seam all human and machine output goes through.

Text on a terminal uses rich (colour, tables, progress); in CI or when piped it prints
plain lines; `--format json` emits one versioned JSON envelope at the end. Under GitHub
Actions, diagnostics also become workflow annotations.

Events and problems go to stderr through one event log: plain text by default, or one JSON
object per line (`--log-format json`, `QRUN_LOG_FORMAT=json`) for a log service. Credentials
are masked in both.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TextIO

from runner.errors import Diagnostic

JSON_ENVELOPE_VERSION = 1
MAX_ANNOTATIONS = 10  # GitHub shows at most 10 annotations of each kind per step
LOG_FORMATS = ("text", "json")
MASK = "***"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


_IRREGULAR = {"entry": "entries", "query": "queries", "this": "these", "is": "are"}


def plural(count: int, noun: str) -> str:
    """'1 circuit', '3 circuits', '2 entries': the count with its noun (last word) inflected."""
    if count == 1:
        return f"{count} {noun}"
    head, _, last = noun.rpartition(" ")
    many = _IRREGULAR.get(last) or (
        last + "es" if last.endswith(("s", "sh", "ch", "x")) else last + "s"
    )
    return f"{count} {head + ' ' if head else ''}{many}"


class EventLog:
    """stderr as a stream of events: text lines for people, JSON lines for a log service."""

    def __init__(
        self, fmt: str = "text", stream: TextIO | None = None, secrets: Sequence[str] = ()
    ) -> None:
        if fmt not in LOG_FORMATS:
            from runner.errors import UsageError

            raise UsageError(f"log format must be one of {', '.join(LOG_FORMATS)} (got {fmt!r})")
        self.format = fmt
        self._stream = stream
        # longest first, so a secret containing another is masked whole
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    @property
    def stream(self) -> TextIO:
        return self._stream or sys.stderr

    def mask(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text

    def emit(self, level: str, event: str, message: str = "", **fields: Any) -> None:
        """One event. Text mode shows warnings and errors only (the stdout lines tell the
        rest); JSON mode writes every event with its time and fields (None fields dropped)."""
        if self.format == "json":
            doc = {
                "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "level": level,
                "event": event,
                **({"message": message} if message else {}),
                **{k: v for k, v in fields.items() if v is not None},
            }
            line = json.dumps(doc, sort_keys=True, default=str, ensure_ascii=False)
        elif level in ("warning", "error") and message:
            line = message
        else:
            return
        self.stream.write(self.mask(line) + "\n")
        self.stream.flush()


class _LogHandler(logging.Handler):
    """Library logging and Python warnings, as events of the same log."""

    def __init__(self, log: EventLog) -> None:
        super().__init__(logging.WARNING)
        self.log = log

    def emit(self, record: logging.LogRecord) -> None:
        level = "warning" if record.levelno < logging.ERROR else "error"
        event = "python.warning" if record.name == "py.warnings" else "library.log"
        self.log.emit(level, event, record.getMessage().strip(), logger=record.name)


_log = EventLog()


def event_log() -> EventLog:
    """The event log of this command (configured once, at its start)."""
    return _log


def configure_logs(fmt: str | None, environ: Mapping[str, str]) -> EventLog:
    """Set this command's event log from --log-format or QRUN_LOG_FORMAT (flag wins); in JSON
    mode library logging and Python warnings become JSON events too, so stderr stays JSON."""
    from runner.config import SECRET_VARS

    global _log
    chosen = fmt or environ.get("QRUN_LOG_FORMAT") or "text"
    _log = EventLog(chosen, secrets=[environ[v] for v in SECRET_VARS if environ.get(v)])
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _LogHandler)]:
        root.removeHandler(handler)
    if _log.format == "json":
        root.addHandler(_LogHandler(_log))
    logging.captureWarnings(_log.format == "json")
    return _log


_NUMBER = re.compile(r"[-+]?(\d[\d,]*(\.\d*)?|\.\d+)(e[-+]?\d+)?%?|—|-|")
MIN_TEXT_WIDTH = 16  # a text column is never cut below this (or its header): names stay whole
SQUEEZED_WIDTH = 4  # ... unless the table cannot fit otherwise


def _columns(environ: Mapping[str, str], stream: TextIO) -> int | None:
    """The width plain tables must fit: COLUMNS, else the terminal's; None when the stream
    is not a terminal (a CI log or a pipe keeps whole lines)."""
    if environ.get("COLUMNS", "").isdigit():
        return int(environ["COLUMNS"])
    if not stream.isatty():
        return None
    return shutil.get_terminal_size().columns


def fit_columns(cells: list[list[str]], limit: int | None, gap: int = 2) -> list[list[str]]:
    """Rows (headers first) whose columns, joined by `gap` spaces, fit `limit` characters:
    the widest text column is shortened with an ellipsis (down to the next widest, then
    both, ...) until the table fits. Text columns keep MIN_TEXT_WIDTH (or their header)
    while that is enough, else SQUEEZED_WIDTH. Columns of numbers are never cut."""
    if limit is None or not cells:
        return cells
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    text = [not all(_NUMBER.fullmatch(row[i]) for row in cells[1:]) for i in range(len(widths))]
    excess = sum(widths) + gap * (len(widths) - 1) - limit
    for least in (MIN_TEXT_WIDTH, SQUEEZED_WIDTH):
        floors = {
            i: min(widths[i], max(least, len(cells[0][i])) if least == MIN_TEXT_WIDTH else least)
            for i in range(len(widths)) if text[i]
        }  # fmt: skip
        while excess > 0 and (room := [i for i, f in floors.items() if widths[i] > f]):
            widest = max(room, key=lambda i: (widths[i], -i))
            others = [widths[i] for i in room if i != widest]
            floor = max(floors[widest], max(others, default=0), widths[widest] - excess)
            cut = max(1, widths[widest] - floor)
            widths[widest] -= cut
            excess -= cut
    return [[_cut(c, w) for c, w in zip(row, widths, strict=True)] for row in cells]


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


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
        self.columns = _columns(env, self.stream)

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
        cells = fit_columns(
            [list(map(str, headers)), *[[str(c) for c in row] for row in rows]], self.columns
        )
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
        if self.stream is not sys.stdout:
            if self.format != "json":
                print(str(diag), file=self.stream)
        elif self.format != "json" or _log.format == "json":
            _log.emit(level, "spec.problem", str(diag), file=diag.path, line=diag.line,
                      col=diag.col)  # fmt: skip
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

    def event(self, level: str, event: str, message: str = "", **fields: Any) -> None:
        """A log-service event whose human form is already on stdout: JSON log mode only."""
        if _log.format == "json":
            _log.emit(level, event, message, **fields)

    def envelope(self, command: str, ok: bool, data: Any, **extra: Any) -> None:
        """The versioned JSON result of a command (only in --format json); extra keys sit
        beside data (plan's `matrix`)."""
        if self.format == "json":
            doc = {"version": JSON_ENVELOPE_VERSION, "command": command, "ok": ok, "data": data}
            doc.update(extra)
            self.raw(json.dumps(doc, indent=2, sort_keys=True, default=str))

    @contextmanager
    def progress(self, description: str, total: int, items: int) -> Iterator[Any]:
        """A progress bar of `total` units on a terminal; in CI or a pipe, one plain
        '[n/items] label' line per finished item. The step function takes the label (shown
        at once), the units finished with it, and whether an item is done."""
        if self.fancy:
            from rich.progress import Progress

            with Progress(console=self.console(), transient=True) as bar:
                task = bar.add_task(description, total=total)

                def step(label: str, advance: int = 0, done: bool = False) -> None:
                    bar.update(task, advance=advance, refresh=True,
                               description=f"{description} {label}".rstrip())  # fmt: skip

                yield step
            return
        state = {"n": 0}

        def line(label: str, advance: int = 0, done: bool = False) -> None:
            if done:
                state["n"] += 1
                self.line(f"{description} [{state['n']}/{items}] {label}".rstrip())

        yield line
