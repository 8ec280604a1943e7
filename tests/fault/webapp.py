"""A stand-in for the web app's cache-invalidation endpoint that can go down and come back.

`POST /api/internal/cache/invalidate` with `Authorization: Bearer <key>`:
every tag is invalidated (200), a wrong key gets 401; with `error_bytes`
set, every request gets a 500 whose JSON error is that many bytes long. `down()` closes the
listening socket, so the worker's requests are refused at the TCP level, as
when the app is not running; `up()` listens on the same port again.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PATH = "/api/internal/cache/invalidate"


@dataclass
class Invalidation:
    tags: list[str]
    request_id: str | None
    authorized: bool


@dataclass
class InvalidationEndpoint:
    key: str
    port: int
    received: list[Invalidation] = field(default_factory=list)
    error_bytes: int = 0
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{PATH}"

    def up(self) -> None:
        assert self._server is None, "already up"
        server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def record(self, body: Any, authorized: bool) -> Invalidation:
        tags = body.get("tags") if isinstance(body, dict) else None
        entry = Invalidation(
            [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else [],
            body.get("requestId") if isinstance(body, dict) else None,
            authorized,
        )
        with self._lock:
            self.received.append(entry)
        return entry


def _handler(endpoint: InvalidationEndpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length") or 0))
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            authorized = self.headers.get("authorization") == f"Bearer {endpoint.key}"
            entry = endpoint.record(body, authorized)
            if self.path != PATH:
                status, answer = 404, {"success": False, "error": "Not found"}
            elif not authorized:
                status, answer = 401, {"success": False, "error": "Unauthorized"}
            elif endpoint.error_bytes:
                status, answer = 500, {"success": False, "error": "E" * endpoint.error_bytes}
            else:
                status = 200
                answer = {"success": True, "invalidated_tags": entry.tags, "failed_tags": []}
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
