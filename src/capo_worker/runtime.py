"""Start-up shared by the commands: database, migrations, connection pool.

Long-running commands (worker, web, run, demo) wait for an unreachable
database, logging each retry; one-shot commands fail at once with a clear
message instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import psycopg
from psycopg_pool import AsyncConnectionPool

from capo_worker.backoff import Backoff
from capo_worker.config import Settings
from capo_worker.db import Database, make_pool
from capo_worker.migrate import apply_migrations

log = logging.getLogger(__name__)


class DatabaseUnavailableError(Exception):
    """The database could not be reached; the message says where and why."""


@dataclass
class Runtime:
    settings: Settings
    database: Database
    url: str
    pool: AsyncConnectionPool


def pool_size(settings: Settings) -> int:
    # Each running job may hold one connection per parallel stats function,
    # plus claiming, heartbeats and maintenance.
    needed = settings.worker_concurrency * settings.stats_parallelism + 4
    return max(settings.db_pool_size, needed)


async def wait_for_database(url: str, where: str, *, wait: bool) -> None:
    backoff = Backoff(first=1.0)
    while True:
        try:
            conn = await psycopg.AsyncConnection.connect(url, connect_timeout=10)
            await conn.close()
            return
        except psycopg.OperationalError as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            if not wait:
                raise DatabaseUnavailableError(
                    f"Cannot connect to the database ({where}): {reason}. Fix: check "
                    "DATABASE_URL and that the server is running."
                ) from None
            delay = backoff.next()
            log.warning(
                "Waiting for the database (%s): %s; retrying in %.0fs", where, reason, delay
            )
            await asyncio.sleep(delay)


@contextlib.asynccontextmanager
async def open_runtime(
    settings: Settings, *, migrate: bool = True, wait: bool = False
) -> AsyncIterator[Runtime]:
    """Resolve the database, apply migrations, and open a pool for the block."""
    database = Database(settings)
    try:
        url = await asyncio.to_thread(lambda: database.url)
        where = database.describe()
        await wait_for_database(url, where, wait=wait)
        if migrate:
            async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                applied = await apply_migrations(conn)
            if applied:
                log.info("Database schema updated: %s", ", ".join(applied))
        pool = make_pool(
            url, max_size=pool_size(settings), lease_seconds=settings.job_lease_seconds
        )
        await pool.open(wait=False)
        try:
            yield Runtime(settings, database, url, pool)
        finally:
            await pool.close()
    finally:
        database.close()
