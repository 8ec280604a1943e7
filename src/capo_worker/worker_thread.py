"""The worker in a thread of its own, for the commands that also serve HTTP.

`capo-worker run` (and `demo`) serve pages and work jobs in one process. On
one event loop, a burst of page loads delays every heartbeat and claim
behind the rendering, and a job can lose its lease while nothing is wrong
with it. So the worker runs on its own event loop in its own thread, with
its own connection pool: whatever the pages cost, its heartbeats, claims and
rescues wait for nothing but the database.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Callable

from capo_worker.db import make_pool
from capo_worker.runtime import Runtime, pool_size
from capo_worker.worker import Worker

# Builds the worker over the runtime it is given (service.build_worker).
MakeWorker = Callable[[Runtime], Worker]


class WorkerThread:
    def __init__(self, runtime: Runtime, make_worker: MakeWorker) -> None:
        self.runtime = runtime
        self.make_worker = make_worker
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._stop_requested = threading.Event()
        self._lock = threading.Lock()

    async def run_until(self, stop: asyncio.Event) -> None:
        """Run the worker thread until `stop` is set (then let it shut down) or it ends."""
        worker = asyncio.ensure_future(asyncio.to_thread(self._thread_main))
        stopper = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({worker, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.request_stop()
            stopper.cancel()
        await worker  # its shutdown (grace period, release), and any error it ended with

    def request_stop(self) -> None:
        """Ask the worker to stop, from any thread, before or after its loop started."""
        with self._lock:
            self._stop_requested.set()
            if self._loop is not None and self._stop is not None:
                self._loop.call_soon_threadsafe(self._stop.set)

    def _thread_main(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        settings = self.runtime.settings
        stop = asyncio.Event()
        with self._lock:
            self._loop, self._stop = asyncio.get_running_loop(), stop
            if self._stop_requested.is_set():
                stop.set()
        pool = make_pool(
            self.runtime.url,
            max_size=pool_size(settings),
            name="capo-worker",
            lease_seconds=settings.job_lease_seconds,
        )
        await pool.open(wait=False)
        try:
            runtime = dataclasses.replace(self.runtime, pool=pool)
            await self.make_worker(runtime).run(stop)
        finally:
            await pool.close()
