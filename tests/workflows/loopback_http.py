"""A real HTTP server on loopback for the http block's tests (a thread per request).

Routes answer like an outside API would: JSON, text, any status, redirects, bodies of
any size (with or without ``Content-Length``), slow answers, and an echo of what was
received. Every request is recorded (method, path, headers, body) so a test can assert
what reached the server, and that nothing did.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


class _Handler(BaseHTTPRequestHandler):
    server: LoopbackServer  # type: ignore[assignment]
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        received = Received(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query),
            headers=dict(self.headers.items()),
            body=body,
        )
        self.server.received.append(received)
        route = parts.path.strip("/").split("/")
        name, args = route[0], route[1:]
        query = {k: v[0] for k, v in received.query.items()}
        getattr(self, f"route_{name}", self.route_missing)(args, query, received)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

    def _send(
        self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def route_json(self, args: list[str], query: dict[str, str], got: Received) -> None:
        self._send(
            200,
            json.dumps({"ok": True, "items": [1, 2]}).encode(),
            "application/json; charset=utf-8",
            {"Set-Cookie": "session=abc", "ETag": '"v1"', "X-Internal-Debug": "x"},
        )

    def route_text(self, args: list[str], query: dict[str, str], got: Received) -> None:
        size = int(query.get("size", "11"))
        self._send(200, (b"hello world" * (size // 11 + 1))[:size], "text/plain")

    def route_echo(self, args: list[str], query: dict[str, str], got: Received) -> None:
        payload = {
            "method": got.method,
            "query": got.query,
            "headers": got.headers,
            "body": got.body.decode("utf-8", "replace"),
        }
        self._send(200, json.dumps(payload).encode(), "application/json")

    def route_whoami(self, args: list[str], query: dict[str, str], got: Received) -> None:
        """Refuses, quoting the credential it was sent (as careless APIs do)."""
        body = json.dumps({"error": "denied", "authorization": got.header("Authorization")})
        self._send(401, body.encode(), "application/json")

    def route_status(self, args: list[str], query: dict[str, str], got: Received) -> None:
        self._send(int(args[0]), b'{"error": "as asked"}', "application/json")

    def route_redirect(self, args: list[str], query: dict[str, str], got: Received) -> None:
        code = int(query.get("code", "302"))
        self._send(code, b"moved", "text/plain", {"Location": query["to"]})

    def route_loop(self, args: list[str], query: dict[str, str], got: Received) -> None:
        hop = int(args[0]) if args else 0
        self._send(302, b"", "text/plain", {"Location": f"/loop/{hop + 1}"})

    def route_big(self, args: list[str], query: dict[str, str], got: Received) -> None:
        """``size`` bytes; ``chunked=1`` sends no Content-Length (the cap must still hold)."""
        size = int(query.get("size", "0"))
        if query.get("chunked") != "1":
            self._send(200, b"x" * size, "application/octet-stream")
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        left = size
        try:
            while left > 0:
                part = min(left, 65536)
                self.wfile.write(f"{part:x}\r\n".encode() + b"x" * part + b"\r\n")
                left -= part
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading at its cap, as it should

    def route_slow(self, args: list[str], query: dict[str, str], got: Received) -> None:
        time.sleep(float(query.get("seconds", "3")))
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._send(200, b"late", "text/plain")

    def route_orders(self, args: list[str], query: dict[str, str], got: Received) -> None:
        """A shop API's order: ``/orders/<id>`` (the support-bot example's order_status)."""
        order = args[0] if args else ""
        body = {"order_id": order, "status": "shipped", "carrier": "Yamato", "eta": "2025-06-03"}
        self._send(200, json.dumps(body).encode(), "application/json")

    def route_missing(self, args: list[str], query: dict[str, str], got: Received) -> None:
        self._send(404, b"no such route", "text/plain")


class LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: list[Received] = []

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def paths(self) -> list[str]:
        return [r.path for r in self.received]


@pytest.fixture
def loopback_server() -> Iterator[LoopbackServer]:
    server = LoopbackServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def dns_pin(monkeypatch: pytest.MonkeyPatch, names: dict[str, str]) -> None:
    """Make ``names`` resolve to the given addresses, as a hostile DNS answer would.

    Patches ``socket.getaddrinfo``, the resolver requests-hardened's address check (and
    urllib3's connect) call, so no /etc/hosts entry is needed; other names resolve as
    usual.
    """
    import socket

    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.lower() in names:
            return real(names[host.lower()], port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
