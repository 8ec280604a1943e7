"""Serving HTTP, alone (`capo-worker web`) or with the worker (`run`, `demo`).

Called by service.run_service, which opens the database and handles signals.

One process: uvicorn's server runs on the main event loop, the worker on an
event loop of its own in another thread (worker_thread.py), so that page
rendering cannot delay its heartbeats. SIGTERM or SIGINT sets one stop event
that ends both: uvicorn stops accepting and finishes open requests, the
worker claims nothing more and lets its jobs finish within
SHUTDOWN_GRACE_SECONDS (then releases them).
The socket is bound before anything else starts, so a busy port or a wrong
HOST ends the command with one clear line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable, Iterator

import uvicorn

from capo_worker.config import ConfigError, Settings
from capo_worker.runtime import Runtime
from capo_worker.web.app import create_app
from capo_worker.web.request_guard import unnamed_server_warning
from capo_worker.web.security import check_listen_allowed
from capo_worker.worker_thread import MakeWorker, WorkerThread

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: our stop event drives shutdown."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def base_url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else "[::1]" if host == "::" else host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def bind_socket(host: str, port: int) -> socket.socket:
    """A bound socket for HOST:PORT, or ConfigError saying why not."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigError(
            f"Configuration error: HOST={host!r} is not an address of this machine "
            f"({exc.strerror}). Fix: set HOST to 127.0.0.1, 0.0.0.0 or one of its addresses."
        ) from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"Configuration error: cannot listen on {host}:{port} ({exc.strerror}). "
            "Fix: set PORT to a free port, or stop the program using it."
        ) from None
    sock.set_inheritable(True)
    return sock


def _uvicorn_config(settings: Settings, runtime: Runtime) -> uvicorn.Config:
    return uvicorn.Config(
        create_app(settings, runtime.pool),
        lifespan="off",
        log_config=None,  # our logging setup (text or JSON) handles uvicorn's loggers
        server_header=False,
        timeout_graceful_shutdown=max(1, int(settings.shutdown_grace_seconds)),
        # X-Forwarded-For/-Proto are believed only from FORWARDED_ALLOW_IPS (the proxies).
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )


async def serve(
    runtime: Runtime,
    stop: asyncio.Event,
    *,
    make_worker: MakeWorker | None = None,
    on_listening: Callable[[str], None] | None = None,
) -> None:
    """Serve until `stop` is set (or the server fails), then shut everything down.

    With `make_worker`, a worker runs too, in a thread of its own (worker_thread.py).
    """
    settings = runtime.settings
    check_listen_allowed(settings)
    unnamed = unnamed_server_warning(settings)
    if unnamed:
        log.warning(unnamed)
    sock = bind_socket(settings.host, settings.port)
    port = sock.getsockname()[1]
    server = _Server(_uvicorn_config(settings, runtime))
    tasks = [asyncio.create_task(server.serve(sockets=[sock]), name="http")]
    if make_worker is not None:
        worker = WorkerThread(runtime, make_worker)
        tasks.append(asyncio.create_task(worker.run_until(stop), name="worker"))
    url = base_url(settings.host, port)
    log.info(
        "Serving HTTP on %s (admin page %s/admin/info, API %s/openapi.json)%s",
        url,
        url,
        url,
        "" if settings.admin_api_key else "; no ADMIN_API_KEY: open to this machine only",
    )
    if on_listening is not None:
        on_listening(url)
    stopper = asyncio.create_task(stop.wait(), name="stop")
    try:
        done, _ = await asyncio.wait([stopper, *tasks], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is not stopper and task.exception() is not None:
                log.error("%s stopped: %s", task.get_name(), task.exception())
    finally:
        stop.set()
        server.should_exit = True
        results = await asyncio.gather(*tasks, return_exceptions=True)
        stopper.cancel()
        sock.close()
    failures = [r for r in results if isinstance(r, BaseException)]
    if failures:
        raise failures[0]
