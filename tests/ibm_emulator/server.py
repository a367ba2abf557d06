"""HTTP front of the emulator: one ThreadingHTTPServer on 127.0.0.1, an ephemeral port.

Paths served (``base`` = ``http://127.0.0.1:PORT``):
``POST /identity/token`` (IAM), ``POST /v3/resources/search`` (Global Search),
``GET /catalog/{plan}`` (Global Catalog), ``/api/v1/...`` (Runtime API). Every request
is recorded (also absolute-URI proxy-style ones) and may first meet an injected fault.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import auth
from .api import RuntimeAPI
from .faults import MAX_GATE_S, FaultInjector, RecordedRequest, Recorder
from .wire import Reply, Request, error

API_PREFIX = "/api/v1"
_RECORDED_FIELDS = (
    "program_id",
    "backend",
    "tags",
    "session_id",
    "cost",
    "private",
    "mode",
    "instance",
    "accepting_jobs",
    "max_ttl",
    "query",
    "grant_type",
    "response_type",
)


class EmulatorHTTPServer(ThreadingHTTPServer):
    """Carries the emulator's state so the handler can reach it."""

    daemon_threads = True

    def __init__(self, api: RuntimeAPI, issuer: auth.TokenIssuer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.api = api
        self.issuer = issuer
        self.faults = FaultInjector()
        self.recorder = Recorder()

    def start(self) -> threading.Thread:
        """Serve in a daemon thread."""
        thread = threading.Thread(
            target=self.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="ibm-emulator",
            daemon=True,
        )
        thread.start()
        return thread


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    timeout = 30  # idle keep-alive connections end on their own
    server: EmulatorHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the recorder is the log."""

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        host = parts.netloc or self.headers.get("Host", "")
        query = parse_qs(parts.query, keep_blank_values=True)
        fault = self.server.faults.take(self.command, parts.path)
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        if fault is not None and fault.gate is not None:
            fault.gate.wait(MAX_GATE_S)
        reply = None
        if fault is None or fault.after or (fault.status is None and not fault.drop):
            reply = self._route(parts.path, query, body)
        if fault is not None and fault.status is not None:
            reply = error(fault.status, fault.message or f"Injected fault {fault.status}")
            if fault.retry_after is not None:
                reply.headers["Retry-After"] = f"{fault.retry_after:g}"
        self.server.recorder.append(
            RecordedRequest(
                method=self.command,
                path=parts.path,
                query=query,
                host=host,
                client=self.client_address[0],
                headers=dict(self.headers.items()),
                body=body,
                fields=_fields(body),
                status=0 if reply is None or (fault and fault.drop) else reply.status,
            )
        )
        if fault is not None and fault.drop:
            self.close_connection = True  # no answer at all: the client sees the connection end
            return
        assert reply is not None
        if fault is not None and fault.body is not None:
            reply.body = fault.body
        self._send(reply, truncate=fault is not None and fault.truncate)

    def _route(self, path: str, query: dict[str, list[str]], body: bytes) -> Reply:
        issuer = self.server.issuer
        if path == "/identity/token" and self.command == "POST":
            status, doc = issuer.exchange(body)
            return Reply(status, doc)
        if not issuer.is_valid(self.headers.get("Authorization")):
            return error(401, "Unauthorized: invalid or expired access token", "Unauthorized")
        if path == "/v3/resources/search" and self.command == "POST":
            api = self.server.api
            return Reply(200, auth.search_response(api.config.crn, api.config.instance_name))
        if path.startswith("/catalog/") and self.command == "GET":
            status, doc = auth.catalog_response(path.removeprefix("/catalog/"))
            return Reply(status, doc)
        if path.startswith(API_PREFIX + "/"):
            if self.headers.get("Service-CRN") != self.server.api.config.crn:
                return error(401, "Service-CRN does not name an instance of this account")
            request = Request(
                self.command, path[len(API_PREFIX) :], query, dict(self.headers.items()), body
            )
            return self.server.api.dispatch(request)
        return error(404, f"no route {path}")

    def _send(self, reply: Reply, truncate: bool = False) -> None:
        if reply.body is None:
            payload, ctype = b"", None
        elif isinstance(reply.body, bytes):
            payload, ctype = reply.body, "application/json"
        else:
            payload, ctype = json.dumps(reply.body).encode(), "application/json"
        self.send_response(reply.status)
        headers = {"Content-Type": ctype} if ctype else {}
        headers.update(reply.headers)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if truncate:  # the body stops halfway and the connection ends
            self.wfile.write(payload[: len(payload) // 2])
            self.close_connection = True
        elif payload:
            self.wfile.write(payload)


def _fields(body: bytes) -> dict[str, Any]:
    """Selected top-level fields of a JSON or form body (never params, never the API key)."""
    if not body:
        return {}
    try:
        doc = json.loads(body)
    except ValueError:
        doc = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    if not isinstance(doc, dict):
        return {}
    fields = {k: doc[k] for k in _RECORDED_FIELDS if k in doc}
    if isinstance(doc.get("params"), dict):
        fields["params_keys"] = sorted(doc["params"])
    return fields
