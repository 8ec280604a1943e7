"""Start-up shared by every command: database, migrations, connection pool.

Long-running commands (worker, web, run, demo) wait for an unreachable
database, logging each retry; one-shot commands fail at once with a clear
message instead. Only `migrate` and, when MIGRATE_ON_START is true, the
worker, run, demo and the commands that write data change the schema; the
others check it and say in one line when it is behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal

import psycopg
from psycopg_pool import AsyncConnectionPool

from capo_worker.backoff import Backoff
from capo_worker.config import Settings
from capo_worker.db import Database, make_pool
from capo_worker.migrate import MigrationError, schema_status
from capo_worker.migrate import migrate as migrate_database
from capo_worker.text import one_line

log = logging.getLogger(__name__)


class DatabaseUnavailableError(Exception):
    """The database could not be reached; the message says where and why."""


class SchemaBehindError(Exception):
    """The database schema is older than this build; the message says to migrate."""


# What a command that does not migrate does when the schema is behind: stop
# (one-shot commands), wait for `capo-worker migrate` (worker, run and demo
# with MIGRATE_ON_START=false), say so and go on (web), or nothing.
IfBehind = Literal["fail", "wait", "warn", "ignore"]
SCHEMA_RECHECK_SECONDS = 2.0


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
            reason = one_line(exc) or type(exc).__name__
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


async def migrate_at_start(url: str, *, wait: bool) -> list[str]:
    """Apply what this build changed (changes made by hand stay: `capo-worker migrate`
    restores them); with `wait`, retry while a table lock is not granted. Returns
    the names of what was applied."""
    backoff = Backoff(first=2.0)
    while True:
        try:
            report = await migrate_database(url, repair=False)
            break
        except MigrationError as exc:
            if not (wait and exc.retryable):
                raise
            delay = backoff.next()
            log.warning("%s Retrying in %.0fs", exc, delay)
            await asyncio.sleep(delay)
    if report.refused:
        log.warning("Not migrating: %s", report.before.describe())
        return []
    if any(step.repairs for step in report.before.steps):
        await check_schema(url, "warn")
    return [f"{step.name} ({step.reason})" for step in report.applied]


async def check_schema(url: str, if_behind: IfBehind) -> None:
    """Say when the schema is not this build's; stop or wait when it is behind, if asked."""
    said = ""
    while True:
        async with await psycopg.AsyncConnection.connect(url) as conn:
            status = await schema_status(conn)
        line = status.describe()
        if status.state == "behind" and if_behind == "fail":
            raise SchemaBehindError(line + ".")
        if status.state != "current" and if_behind != "ignore" and line != said:
            log.warning("%s%s", line, " (waiting)" if if_behind == "wait" else "")
            said = line
        if status.state != "behind" or if_behind != "wait":
            return
        await asyncio.sleep(SCHEMA_RECHECK_SECONDS)


@contextlib.asynccontextmanager
async def open_runtime(
    settings: Settings,
    *,
    migrate: bool = True,
    wait: bool = False,
    if_behind: IfBehind = "warn",
) -> AsyncIterator[Runtime]:
    """Resolve the database, migrate (or check the schema), and open a pool for the block."""
    database = Database(settings)
    try:
        url = await asyncio.to_thread(lambda: database.url)
        where = database.describe()
        await wait_for_database(url, where, wait=wait)
        if not migrate:
            await check_schema(url, if_behind)
        else:
            applied = await migrate_at_start(url, wait=wait)
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
