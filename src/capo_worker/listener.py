"""Wake-ups from the job table: LISTEN on the channel the job table's trigger NOTIFYs.

A connection of its own LISTENs on NOTIFY_CHANNEL; a notification naming the
worker's queue sets `wake`. After connecting, the listener sends itself a
probe. When the probe does not come back (a connection pooler in transaction
mode passes no notifications), the worker polls: it warns once, and tries
LISTEN again every `retry_seconds` on a new connection, since the next one
may reach the database directly. A lost connection is retried with backoff,
the worker polling meanwhile. `listening` says whether notifications arrive.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from capo_worker.backoff import Backoff
from capo_worker.constants import NOTIFY_CHANNEL
from capo_worker.db import client_keepalives
from capo_worker.db_errors import DB_ERRORS
from capo_worker.text import one_line

log = logging.getLogger("capo_worker.worker")

PROBE_SECONDS = 5.0  # how long the probe may take to come back
RETRY_SECONDS = 60.0  # after a failed probe, LISTEN is tried again this much later
SILENCE_SECONDS = 30.0  # a quiet connection is checked this often


class JobNotifications:
    def __init__(
        self,
        url: str,
        pool: AsyncConnectionPool,
        *,
        queue_name: str,
        wake: asyncio.Event,
        lease_seconds: float,
        poll_interval_ms: int,
        retry_seconds: float = RETRY_SECONDS,
    ) -> None:
        self.url = url
        self.pool = pool  # sends the probe
        self.queue_name = queue_name
        self.wake = wake
        self.lease_seconds = lease_seconds
        self.poll_interval_ms = poll_interval_ms
        self.retry_seconds = retry_seconds
        self.listening = False

    async def run(self) -> None:
        """LISTEN until cancelled, reconnecting and re-probing as the module says."""
        backoff = Backoff(first=1.0)
        warned = False
        while True:
            delay = self.retry_seconds
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.url, autocommit=True, **client_keepalives(self.url, self.lease_seconds)
                ) as conn:
                    await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    if await self._probe(conn):
                        backoff.reset()
                        await self._listen(conn)
                    elif not warned:
                        log.warning(
                            "LISTEN/NOTIFY does not reach this worker (a connection pooler in "
                            "transaction mode?); polling every %d ms instead, trying again "
                            "every %.0f s. Use a session-mode connection string to get instant "
                            "pickup.",
                            self.poll_interval_ms,
                            self.retry_seconds,
                        )
                        warned = True
            except asyncio.CancelledError:
                raise
            except DB_ERRORS as exc:
                delay = backoff.next()
                if self.listening:
                    log.warning(
                        "Lost the LISTEN connection (%s); polling until it is back", one_line(exc)
                    )
            self.listening = False
            await asyncio.sleep(delay)

    async def _listen(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self.listening = True
        log.info("Listening on queue %s", self.queue_name)
        self.wake.set()  # catch up on anything enqueued while we were deaf
        while True:
            async for note in conn.notifies(timeout=SILENCE_SECONDS):
                if note.payload == self.queue_name:
                    self.wake.set()
            await conn.execute("SELECT 1")  # a silent while: is the link alive?

    async def _probe(self, conn: psycopg.AsyncConnection[Any]) -> bool:
        """Send ourselves a notification and see whether it arrives."""
        probe = f"probe-{random.random()}"
        async with self.pool.connection() as other:
            await other.execute("SELECT pg_notify(%s, %s)", (NOTIFY_CHANNEL, probe))
        async for note in conn.notifies(timeout=PROBE_SECONDS):
            if note.payload == probe:
                return True
        return False
