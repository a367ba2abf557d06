"""Jinja filters: text from specs and results made inert, numbers made readable.

Everything a spec author, a backend or a result can put on a page (description, names,
tags, circuit ids, error texts, backend names) is data, never Markdown or HTML. `md`
turns it into one line of plain text that cannot open a tag, start a heading or list,
emphasise, link, or end a table cell. Template syntax in the data needs no special care:
values are substituted into templates, never compiled as template source.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

from runner import schedule
from runner.fits.lead import human_name
from runner.output import plural

# ASCII punctuation that means something inline in CommonMark/GFM; a backslash makes it literal
_INLINE = re.compile(r"([\\`*_\[\]|~])")
# constructs that only mean something at the start of a line: heading, list, rule, setext
_LEADING = re.compile(r"^()([#+=-]|\d{1,9}[.)](?=\s|$))")
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
MISSING = "—"

STATUS_BADGES = {
    "completed": "✅ completed",
    "queued": "⏳ queued",
    "running": "⏳ running",
    "failed": "❌ failed",
    "cancelled": "🚫 cancelled",
    "claimed": "📝 claimed",
}


def display_name(name: str) -> str:
    """A metric's human name (runner.analysis.metrics.DISPLAY_NAMES)."""
    from runner.analysis.metrics import display_name as named

    return named(name)


def md(value: Any) -> str:
    """Plain text for Markdown: one line, no HTML, no emphasis/link/code/table syntax."""
    if value is None:
        return MISSING
    text = "".join(ch for ch in str(value) if ch.isprintable() or ch.isspace())
    text = " ".join(text.split())  # every newline, tab, CR and run of spaces -> one space
    text = "".join(_ENTITIES.get(ch, ch) for ch in text)
    text = _INLINE.sub(r"\\\1", text)
    return _LEADING.sub(lambda m: f"{m[1]}{m[2][:-1]}\\{m[2][-1]}", text, count=1)


def url(target: str) -> str:
    """A link destination that cannot end the link early: spaces, brackets and parens encoded."""
    return quote(target, safe=":/?#@!$&'*+,;=%~.-_")


def badge(status: Any) -> str:
    """Status as emoji + word; unknown statuses are shown escaped, never dropped."""
    key = str(getattr(status, "value", status)).lower()
    return STATUS_BADGES.get(key, f"❔ {md(key)}")


def _decimals(half: float) -> int:
    """Decimal places that show two significant digits of an uncertainty."""
    return min(6, max(0, 1 - math.floor(math.log10(half))))


def _fixed(x: float, decimals: int) -> str:
    text = f"{x + 0.0:.{decimals}f}"
    return text[1:] if text.startswith("-") and not text.strip("-0.") else text


def num(value: Any, digits: int = 4) -> str:
    """A number with `digits` significant digits; None and non-numbers as a dash."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return MISSING
    return f"{value + 0.0:.{digits}g}"


def metric(data: Mapping[str, Any] | None) -> str:
    """value [low, high]: every page shows 95% intervals one way, stated once under its
    tables; a metric known only by its standard error gets value ± 1.96 stderr."""
    if not data or data.get("value") is None:
        return MISSING
    value, low, high = float(data["value"]), data.get("low"), data.get("high")
    unit = f" {md(data['unit'])}" if data.get("unit") else ""
    stderr = data.get("stderr")
    if (low is None or high is None) and stderr:
        low, high = value - 1.96 * float(stderr), value + 1.96 * float(stderr)
    if low is None or high is None or high - low <= 0:
        return f"{num(value)}{unit}"
    d = _decimals(max(high - low, abs(value - low), abs(high - value)) / 2)
    return f"{_fixed(value, d)} [{_fixed(low, d)}, {_fixed(high, d)}]{unit}"


def ceiling(data: Mapping[str, Any] | None) -> str:
    """A fidelity's shot-noise ceiling as mean ± sd, or a dash."""
    if not data or data.get("ceiling") is None:
        return MISSING
    mean, sd = float(data["ceiling"]), float(data.get("ceiling_sd") or 0.0)
    if round(sd, 6) == 0:  # a one-outcome ideal: every shot agrees, the ceiling is exact
        return num(mean)
    d = _decimals(sd)
    return f"{_fixed(mean, d)} ± {_fixed(sd, d)}"


def parse_time(stamp: str | None) -> datetime | None:
    """ISO 8601 (with Z or an offset) or None when absent or unreadable."""
    if not stamp:
        return None
    try:
        return schedule.parse_time(str(stamp))
    except ValueError:
        return None


def date(stamp: str | None) -> str:
    """YYYY-MM-DD HH:MM as recorded (runner timestamps are UTC); raw text when unparseable."""
    when = parse_time(stamp)
    if when is None:
        return md(stamp)
    return when.strftime("%Y-%m-%d %H:%M")


def duration(start: str | None, end: str | None) -> str:
    """Elapsed time between two stamps, e.g. 3m 20s or 2h 05m; a dash when either is missing.

    Stamps have second precision, so equal stamps mean under a second (a pinned QRUN_NOW
    clock stands still: every duration reads so)."""
    a, b = parse_time(start), parse_time(end)
    if a is None or b is None or (a.tzinfo is None) != (b.tzinfo is None):
        return MISSING
    seconds = max(0, round((b - a).total_seconds()))
    if seconds == 0:
        return "< 1s"
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    if seconds < 86400:
        return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d {seconds % 86400 // 3600:02d}h"


def device(name: str | None) -> str:
    """A backend name for a table cell, marked when IBM has retired the device (the run's
    jobs stay retrievable; new runs on it are blocked)."""
    from runner.backends.fleet import RETIRED

    if name not in RETIRED:
        return md(name)
    day = RETIRED[name]
    return md(f"{name} (retired{' on ' + day if day else ''})")


def code(value: Any) -> str:
    """A code span (a command to copy): literal text, so no escapes; backticks, newlines and
    anything unprintable are dropped so the span cannot end early or break the line."""
    text = "".join(ch for ch in str(value) if ch.isprintable() and ch not in "`|<>")
    return f"`{text}`" if text.strip() else MISSING


def headline(data: Mapping[str, Any] | None) -> str:
    """A headline with its name: 'Mean fidelity 0.97 [0.96, 0.98]', 'T1 (t1-q4) 182 [169, 194] µs'."""
    if not data or data.get("value") is None:
        return MISSING
    name = data.get("label") or display_name(str(data.get("name") or ""))
    return f"{md(name)} {metric(data)}" if name else metric(data)


def metric_label(key: Any) -> str:
    """A metric's human name as plain text (display_name's registry), a dash when absent."""
    text = str(key or "")
    return display_name(text) if text else MISSING


FILTERS = {
    "device": device,
    "code": code,
    "plural": plural,
    "md": md,
    "url": url,
    "badge": badge,
    "num": num,
    "metric": metric,
    "headline": headline,
    "ceiling": ceiling,
    "label": lambda name: md(display_name(str(name or ""))),
    "fitted": lambda name: md(human_name(str(name or ""))),
    "date": date,
}
