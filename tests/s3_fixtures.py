"""Real protocol peers for the COS store: moto's S3 server, a fault-injecting TCP proxy, IAM.

- ``moto_s3`` (module scope): ``ThreadedMotoServer`` on 127.0.0.1 with three fresh buckets,
  and the environment mapping that points ``StoreConfig.from_env`` at it (HMAC credentials).
- ``fault_proxy``: a TCP proxy in front of moto that frames HTTP/1.1 requests and can reset
  the next N requests, answer nothing (forward, then reset: the server acted but the client
  never heard), or delay them; optionally only requests whose request line matches a regex.
- ``iam_token_server`` (module scope): an IBM IAM token endpoint issuing JWT-shaped bearer
  tokens for one API key and rejecting others the way IAM does (HTTP 400, BXNIM0415E).
"""

from __future__ import annotations

import base64
import json
import re
import selectors
import socket
import struct
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest

HMAC_ACCESS_KEY = "testing"
HMAC_SECRET = "testing-secret-key-do-not-log"
IAM_API_KEY = "iam-apikey-do-not-log-0123456789"
INSTANCE_ID = "crn:v1:bluemix:public:cloud-object-storage:global:a/123:456::"


@dataclass
class S3Setup:
    """A running moto server with the three qrun buckets."""

    endpoint: str
    buckets: dict[str, str]

    def env(self, endpoint: str | None = None, **extra: str) -> dict[str, str]:
        """The environment StoreConfig.from_env reads, optionally via another endpoint."""
        env = {
            "COS_ENDPOINT": endpoint or self.endpoint,
            "COS_BUCKET_EXPERIMENTS": self.buckets["experiments"],
            "COS_BUCKET_RESULTS": self.buckets["results"],
            "COS_BUCKET_CIRCUITS": self.buckets["circuits"],
            "COS_HMAC_ACCESS_KEY_ID": HMAC_ACCESS_KEY,
            "COS_HMAC_SECRET_ACCESS_KEY": HMAC_SECRET,
            "COS_REGION": "us-east-1",
            "COS_CONNECT_TIMEOUT": "2",
            "COS_READ_TIMEOUT": "5",
        }
        env.update(extra)
        return env

    def client(self) -> Any:
        """A plain S3 client, for setting up and tampering behind the store's back."""
        return raw_client(self.endpoint)


def raw_client(endpoint: str) -> Any:
    """ibm_boto3 S3 client with the test HMAC credentials."""
    import ibm_boto3

    return ibm_boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=HMAC_ACCESS_KEY,
        aws_secret_access_key=HMAC_SECRET,
        region_name="us-east-1",
    )


@pytest.fixture(scope="module")
def moto_s3() -> Iterator[S3Setup]:
    """Moto's S3 over HTTP on 127.0.0.1, once per test module, with unique bucket names."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    suffix = uuid.uuid4().hex[:8]  # moto's state is process-wide; keep modules apart
    setup = S3Setup(
        endpoint=f"http://{host}:{port}",
        buckets={b: f"qrun-{b}-{suffix}" for b in ("experiments", "results", "circuits")},
    )
    client = setup.client()
    for name in setup.buckets.values():
        client.create_bucket(Bucket=name)
    try:
        yield setup
    finally:
        server.stop()


@dataclass
class _Fault:
    kind: str  # "reset" | "drop" | "delay" | "respond" | "cut"
    count: int
    match: re.Pattern[str] | None
    seconds: float = 0.0
    status: int = 0
    body: bytes = b""
    after: int = 0

    def response(self, method: str) -> bytes:
        """A canned S3 error answer, closing the connection; HEAD answers carry no body."""
        reason = {403: "Forbidden", 500: "Internal Server Error", 503: "Slow Down"}
        head = (
            f"HTTP/1.1 {self.status} {reason.get(self.status, 'Error')}\r\n"
            "Content-Type: application/xml\r\n"
            f"Content-Length: {len(self.body)}\r\n"
            f"x-amz-request-id: {uuid.uuid4().hex[:16]}\r\n"
            "Connection: close\r\n\r\n"
        ).encode("ascii")
        return head if method == "HEAD" else head + self.body


@dataclass
class FaultProxy:
    """TCP proxy that injects connection faults per HTTP request, over the real protocol."""

    upstream: tuple[str, int]
    request_lines: list[str] = field(default_factory=list)
    injected: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    heads: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._accept_thread = threading.Thread(target=self._accept, daemon=True)
        self._accept_thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def reset_next(self, count: int, match: str | None = None) -> None:
        """Reset the connection on the next `count` (matching) requests, before forwarding."""
        self._add(_Fault("reset", count, re.compile(match) if match else None))

    def drop_response_next(self, count: int, match: str | None = None) -> None:
        """Forward the next `count` (matching) requests, then reset instead of answering."""
        self._add(_Fault("drop", count, re.compile(match) if match else None))

    def delay_next(self, count: int, seconds: float, match: str | None = None) -> None:
        """Hold the next `count` (matching) requests for `seconds` before forwarding."""
        self._add(_Fault("delay", count, re.compile(match) if match else None, seconds))

    def cut_response_next(self, count: int, after: int, match: str | None = None) -> None:
        """Pass only the first `after` bytes of the next `count` (matching) answers, then reset."""
        self._add(_Fault("cut", count, re.compile(match) if match else None, after=after))

    def respond_next(
        self, count: int, status: int, code: str, message: str, match: str | None = None
    ) -> None:
        """Answer the next `count` (matching) requests with an S3 error document instead."""
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{message}</Message>"
            f"<RequestId>{uuid.uuid4().hex[:16]}</RequestId></Error>"
        ).encode()
        pattern = re.compile(match) if match else None
        self._add(_Fault("respond", count, pattern, status=status, body=body))

    def pending(self) -> int:
        """Faults queued but not yet injected."""
        with self._lock:
            return sum(f.count for f in self._faults)

    def stop(self) -> None:
        self._stopping.set()
        self._accept_thread.join()
        for thread in self._threads:
            thread.join()
        self._listener.close()

    def _add(self, fault: _Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def _take(self, request_line: str) -> _Fault | None:
        with self._lock:
            self.request_lines.append(request_line)
            for fault in self._faults:
                if fault.count and (fault.match is None or fault.match.search(request_line)):
                    fault.count -= 1
                    self.injected.append((fault.kind, request_line))
                    return fault
        return None

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            thread = threading.Thread(target=self._serve, args=(client,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, client: socket.socket) -> None:
        try:
            with socket.create_connection(self.upstream) as upstream:
                self._pump(client, upstream)
        except OSError:
            pass  # the client went away (e.g. after its read timeout): nothing to forward to
        finally:
            client.close()

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        """Forward both ways; find each request head in the client stream to apply faults."""
        selector = selectors.DefaultSelector()
        selector.register(client, selectors.EVENT_READ)
        selector.register(upstream, selectors.EVENT_READ)
        pending = bytearray()
        body_left = 0
        drop = False
        cut_left: int | None = None  # answer bytes still to pass before a "cut" reset
        canned: tuple[_Fault, str] | None = None  # answer instead of upstream, after the body
        while not self._stopping.is_set():
            for key, _ in selector.select(timeout=0.2):
                if key.fileobj is upstream:
                    chunk = upstream.recv(65536)
                    if not chunk:
                        return
                    if drop and not chunk.startswith(b"HTTP/1.1 100 "):
                        _reset(client)
                        return
                    if cut_left is not None:
                        chunk = chunk[:cut_left]
                        cut_left -= len(chunk)
                    client.sendall(chunk)
                    if cut_left == 0:
                        _reset(client)
                        return
                    continue
                chunk = client.recv(65536)
                if not chunk:
                    return
                pending += chunk
                while pending or (canned is not None and not body_left):
                    if body_left:
                        part = bytes(pending[:body_left])
                        del pending[: len(part)]
                        body_left -= len(part)
                        if canned is None:
                            upstream.sendall(part)
                        continue
                    if canned is not None:
                        client.sendall(canned[0].response(canned[1]))
                        return
                    end = pending.find(b"\r\n\r\n")
                    if end < 0:
                        break
                    head = bytes(pending[: end + 4])
                    del pending[: end + 4]
                    body_left, request_line = self._parse(head)
                    fault = self._take(request_line)
                    kind = fault.kind if fault is not None else "pass"
                    if kind == "reset":
                        _reset(client)
                        return
                    if kind == "delay" and fault is not None:
                        time.sleep(fault.seconds)
                    if kind == "respond" and fault is not None:
                        canned = (fault, request_line.split(" ", 1)[0])
                        if re.search(r"(?im)^expect:\s*100-continue", head.decode("latin-1")):
                            body_left = 0  # answer at once; the client will not send the body
                        continue
                    drop = kind == "drop"
                    if kind == "cut" and fault is not None:
                        cut_left = fault.after
                    upstream.sendall(head)

    def _parse(self, head: bytes) -> tuple[int, str]:
        text = head.decode("latin-1")
        self.heads.append(head)
        request_line = text.split("\r\n", 1)[0]
        length = re.search(r"(?im)^content-length:\s*(\d+)\s*$", text)
        if re.search(r"(?im)^transfer-encoding:", text):
            self.errors.append(f"chunked request body not supported: {request_line}")
        return (int(length.group(1)) if length else 0), request_line


def _reset(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0), which the client sees as 'connection reset by peer'."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


@pytest.fixture
def fault_proxy(moto_s3: S3Setup) -> Iterator[FaultProxy]:
    """A fresh fault proxy in front of the module's moto server."""
    host, port = moto_s3.endpoint.removeprefix("http://").split(":")
    proxy = FaultProxy(upstream=(host, int(port)))
    try:
        yield proxy
    finally:
        proxy.stop()
    assert proxy.errors == []


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class IamTokenServer:
    """IBM IAM's token endpoint: API key (or refresh token) in, bearer JWT out."""

    def __init__(self, api_key: str = IAM_API_KEY) -> None:
        self.api_key = api_key
        self.grants: list[str] = []
        self.accepted = 0
        self.rejected = 0
        self.issued: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = parse_qs(self.rfile.read(length).decode("ascii"))
                status, body = owner._answer(self.path, form)
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/identity/token"

    def _answer(self, path: str, form: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        grant = form.get("grant_type", [""])[0]
        self.grants.append(grant)
        apikey_ok = grant.endswith(":apikey") and form.get("apikey") == [self.api_key]
        refresh_ok = grant == "refresh_token" and bool(form.get("refresh_token"))
        if path != "/identity/token" or not (apikey_ok or refresh_ok):
            self.rejected += 1
            return 400, {
                "errorCode": "BXNIM0415E",
                "errorMessage": "Provided API key could not be found.",
                "context": {"requestId": uuid.uuid4().hex},
            }
        self.accepted += 1
        now = int(time.time())
        claims = {"iam_id": "iam-ServiceId-test", "iat": now, "exp": now + 3600, "sub": "qrun"}
        header = _b64(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "test"}).encode())
        token = f"{header}.{_b64(json.dumps(claims).encode())}.{_b64(uuid.uuid4().bytes)}"
        self.issued.append(token)
        return 200, {
            "access_token": token,
            "refresh_token": uuid.uuid4().hex,
            "token_type": "Bearer",
            "expires_in": 3600,
            "expiration": now + 3600,
        }

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


@pytest.fixture(scope="module")
def iam_token_server() -> Iterator[IamTokenServer]:
    """A local IAM token endpoint accepting IAM_API_KEY."""
    server = IamTokenServer()
    try:
        yield server
    finally:
        server.stop()
