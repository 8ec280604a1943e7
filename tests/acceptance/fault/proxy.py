"""A TCP proxy between a worker and its database that can stop forwarding.

It stands for a network that silently drops a worker's traffic (a partition,
a hung NAT or load balancer): while paused, every connection stays open and
the bytes sent on it are accepted by the kernel, but nothing reaches the
other side, in either direction. `resume()` delivers what waited and carries
on, as when the network heals. Runs an asyncio loop in a thread of the test
process; the database may be reached over TCP or a Unix socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict, make_conninfo

_CHUNK = 65536


class PausableProxy:
    def __init__(self, db_url: str) -> None:
        params = conninfo_to_dict(db_url)
        host = str(params.get("host") or "/tmp")
        port = int(params.get("port") or 5432)
        self._unix = Path(host) / f".s.PGSQL.{port}" if host.startswith("/") else None
        self._target = (host, port)
        self._db_url = db_url
        self._loop = asyncio.new_event_loop()
        self._flowing: asyncio.Event | None = None
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.port = 0
        self.connections = 0

    @property
    def url(self) -> str:
        """`db_url`, reached through the proxy."""
        return make_conninfo(self._db_url, host="127.0.0.1", port=str(self.port))

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(10)

    def pause(self) -> None:
        """Stop forwarding on every connection (new ones too), keeping them open."""
        self._call(lambda: self._event().clear())

    def resume(self) -> None:
        self._call(lambda: self._event().set())

    def close(self) -> None:
        async def stop() -> None:
            if self._server is not None:
                self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _event(self) -> asyncio.Event:
        assert self._flowing is not None
        return self._flowing

    def _call(self, action: object) -> None:
        async def run() -> None:
            action()  # type: ignore[operator]

        asyncio.run_coroutine_threadsafe(run(), self._loop).result(10)

    async def _listen(self) -> None:
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            if self._unix is not None:
                server_r, server_w = await asyncio.open_unix_connection(str(self._unix))
            else:
                server_r, server_w = await asyncio.open_connection(*self._target)
        except OSError:
            client_w.close()
            return
        await asyncio.gather(
            self._pipe(client_r, server_w), self._pipe(server_r, client_w), return_exceptions=True
        )
        for writer in (client_w, server_w):
            writer.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await self._event().wait()  # paused: read nothing, so nothing is passed on
                data = await reader.read(_CHUNK)
                await self._event().wait()
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        finally:
            with contextlib.suppress(Exception):
                writer.write_eof()


@contextlib.contextmanager
def pausable_proxy(db_url: str) -> Iterator[PausableProxy]:
    proxy = PausableProxy(db_url)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.close()
