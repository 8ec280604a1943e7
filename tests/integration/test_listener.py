"""LISTEN/NOTIFY wake-ups, and what happens when notifications do not arrive.

A pooler in transaction mode swallows notifications: the probe the listener
sends itself never comes back, and the worker polls. Here the probe is sent
to another database (notifications are per database, so it is lost the same
way); once the route is fixed, the listener must try again and listen, not
poll for the rest of its life.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from capo_worker.constants import DEFAULT_QUEUE_NAME, NOTIFY_CHANNEL
from capo_worker.db import make_pool
from capo_worker.listener import JobNotifications


@contextlib.asynccontextmanager
async def opened(url: str) -> AsyncIterator[AsyncConnectionPool]:
    pool = make_pool(url, max_size=2)
    await pool.open(wait=True)
    try:
        yield pool
    finally:
        await pool.close()


async def listening(listener: JobNotifications) -> None:
    """Wait for the listener to listen (30 s at most: against hanging, not a speed test)."""
    async with asyncio.timeout(30):
        while not listener.listening:  # noqa: ASYNC110 (a flag, not an event)
            await asyncio.sleep(0.05)


@pytest.mark.parametrize("first_probe", ["lost", "delivered"])
async def test_after_a_lost_probe_the_listener_tries_again_and_listens(
    db_url: str, empty_db_url: str, first_probe: str
) -> None:
    wake = asyncio.Event()
    async with opened(db_url) as same_db, opened(empty_db_url) as other_db:
        listener = JobNotifications(
            db_url,
            other_db if first_probe == "lost" else same_db,
            queue_name=DEFAULT_QUEUE_NAME,
            wake=wake,
            lease_seconds=30,
            poll_interval_ms=1000,
            retry_seconds=0.5,
        )
        task = asyncio.create_task(listener.run())
        try:
            if first_probe == "lost":
                await asyncio.sleep(6)  # longer than one probe: it was lost
                assert not listener.listening
                listener.pool = same_db  # the route now passes notifications
            await listening(listener)
            wake.clear()
            async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as app:
                await app.execute("SELECT pg_notify(%s, %s)", (NOTIFY_CHANNEL, DEFAULT_QUEUE_NAME))
            async with asyncio.timeout(30):
                await wake.wait()
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
