"""The stand-in for the web app's cache-invalidation endpoint, for every tier of tests.

`POST /api/internal/cache/invalidate` (spec 50 §b): Bearer key check first,
then per-tag revalidation answering 200, or 207 with the failed tags. Tests
script it per request (`plan`: a status, "hang", "not-json",
"error-of-N"), break tags (`broken`: tag -> failures left, -1 always), make
every answer a 500 with an N-byte error (`error_bytes`), and take it down and
up again on the same port (`down()` refuses connections at the TCP level, as
when the app is not running).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from capo_worker.cache import WebhookInvalidator

PATH = "/api/internal/cache/invalidate"
KEY = "test-internal-key"
UNAUTHORIZED = {
    "success": False,
    "error": "Unauthorized - Invalid or missing API key",
    "invalidated_tags": [],
    "failed_tags": [],
}


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    raw: bytes
    key: str

    @property
    def body(self) -> Any:
        return json.loads(self.raw)

    @property
    def authorized(self) -> bool:
        return self.headers.get("authorization") == f"Bearer {self.key}"

    def _field(self, name: str) -> Any:
        try:
            body = self.body
        except ValueError:
            return None
        return body.get(name) if isinstance(body, dict) else None

    @property
    def tags(self) -> list[str]:
        tags = self._field("tags")
        return [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []

    @property
    def request_id(self) -> str | None:
        value = self._field("requestId")
        return value if isinstance(value, str) else None


@dataclass
class StandInWebApp:
    key: str = KEY
    port: int = 0  # 0: any free port, chosen by up()
    received: list[Received] = field(default_factory=list)
    # One entry per coming request: an HTTP status to answer with, "hang",
    # "not-json" or "error-of-N"; when empty, the endpoint behaves normally.
    plan: list[int | str] = field(default_factory=list)
    broken: dict[str, int] = field(default_factory=dict)  # tag -> failures left (-1: always)
    error_bytes: int = 0  # every answer a 500 whose error is this long
    retry_after: str | None = None
    on_request: Callable[[], None] | None = None
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"{self.base_url}{PATH}"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def tag_lists(self) -> list[list[str]]:
        return [r.body["tags"] for r in self.received]

    def up(self) -> None:
        assert self._server is None, "already up"
        server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def down(self) -> None:
        self.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self.release.clear()

    def respond(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any, bool]:
        """(status, body, hang first) for one request, as the real endpoint would answer."""
        request = Received(path, headers, raw, self.key)
        with self.lock:
            self.received.append(request)
            step = self.plan.pop(0) if self.plan else None
            hook = self.on_request
        if hook is not None:
            hook()
        if step == "hang":
            return 200, {"success": True, "invalidated_tags": [], "failed_tags": []}, True
        if step == "not-json":
            return 200, "OK", False
        if isinstance(step, str) and step.startswith("error-of-"):
            size = int(step.removeprefix("error-of-"))
            return 500, {"success": False, "error": "E" * size}, False
        if isinstance(step, int):
            body = UNAUTHORIZED if step == 401 else {"success": False, "error": f"boom {step}"}
            return step, body, False
        if path != PATH:
            return 404, {"success": False, "error": "Not found"}, False
        if not request.authorized:
            return 401, UNAUTHORIZED, False
        if self.error_bytes:
            return 500, {"success": False, "error": "E" * self.error_bytes}, False
        tags = request.body.get("tags")
        if not isinstance(tags, list) or not tags:
            error = "Invalid request: tags must be a non-empty array"
            return 400, {"success": False, "error": error}, False
        return self._revalidate(tags)

    def _revalidate(self, tags: list[str]) -> tuple[int, Any, bool]:
        done, failed = [], []
        with self.lock:
            for tag in tags:
                left = self.broken.get(tag, 0)
                if left:
                    self.broken[tag] = left - 1 if left > 0 else left
                    failed.append(tag)
                else:
                    done.append(tag)
        if failed:
            body = {
                "success": False,
                "invalidated_tags": done,
                "failed_tags": failed,
                "error": f"Failed to invalidate {len(failed)} tags",
            }
            return 207, body, False
        return 200, {"success": True, "invalidated_tags": done, "failed_tags": []}, False


def _handler(app: StandInWebApp) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, body, hang = app.respond(self.path, headers, raw)
            if hang:
                app.release.wait(30)
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if status == 429 and app.retry_after is not None:
                    self.send_header("Retry-After", app.retry_after)
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the client gave up (timeout test)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def running_webapp(**options: Any) -> Iterator[StandInWebApp]:
    """A stand-in web app listening on a free port for the block."""
    app = StandInWebApp(**options)
    app.up()
    try:
        yield app
    finally:
        app.down()


class RecordedSleeps:
    """Stands in for asyncio.sleep between attempts: records the delays, waits not at all."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def client(app: StandInWebApp, *, key: str = KEY, timeout: float = 5.0) -> WebhookInvalidator:
    """The product's webhook client for the stand-in, sleeping not at all between attempts."""
    return WebhookInvalidator(app.url, key, timeout_seconds=timeout, sleep=RecordedSleeps())
