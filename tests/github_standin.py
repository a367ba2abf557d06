"""A local HTTP stand-in for the GitHub REST API: answers the routes a test sets, keeps the
issue comments it is sent (so a second call edits the first comment), and records every
request with its headers. Real HTTP on 127.0.0.1, spoken to by runner.github_api."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class GitHubStandIn:
    routes: dict[tuple[str, str], Any] = field(default_factory=dict)  # (method, path) -> JSON
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # by issue number
    requests: list[Request] = field(default_factory=list)
    url: str = ""
    next_id: int = 999

    def handle(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        bare = path.split("?", 1)[0]
        parts = bare.strip("/").split("/")
        if (method, bare) in self.routes:
            return 200, self.routes[(method, bare)]
        # /repos/o/r/issues/N/comments and /repos/o/r/issues/comments/ID
        if parts[3:4] == ["issues"] and parts[5:6] == ["comments"]:
            thread = self.comments.setdefault(int(parts[4]), [])
            if method == "GET":
                return 200, thread
            if method == "POST":
                new_id = self.next_id = self.next_id + 1  # never reused, as on GitHub
                comment = {"id": new_id, "user": {"login": "github-actions[bot]"}, **body}
                thread.append(comment)
                return 201, comment
        if parts[3:5] == ["issues", "comments"] and method in ("PATCH", "DELETE"):
            for thread in self.comments.values():
                for comment in thread:
                    if comment["id"] == int(parts[5]) and method == "DELETE":
                        thread.remove(comment)
                        return 204, None
                    if comment["id"] == int(parts[5]):
                        comment.update(body)
                        return 200, comment
        return 404, {"message": "Not Found"}


def serve() -> Iterator[GitHubStandIn]:
    standin = GitHubStandIn()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            standin.requests.append(Request(self.command, self.path, dict(self.headers), body))
            status, answer = standin.handle(self.command, self.path, body)
            data = b"" if status == 204 else json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_DELETE = _answer

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    standin.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield standin
    finally:
        server.shutdown()
        server.server_close()
