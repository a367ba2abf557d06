"""Request/reply values shared by the API handlers, and IBM's error envelope."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Request:
    """The parts of an HTTP request the API looks at."""

    method: str
    path: str  # below /api/v1
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def arg(self, name: str) -> str | None:
        """First value of a query parameter."""
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class Reply:
    """Status, body (JSON-encoded unless bytes/str) and extra headers."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def error(status: int, message: str, code: int | str | None = None) -> Reply:
    """IBM-style error body."""
    code = status if code is None else code
    return Reply(
        status,
        {
            "errors": [{"code": code, "message": message}],
            "error": {"code": code, "message": message},
            "status_code": status,
            "trace": uuid.uuid4().hex,
        },
    )
