"""`capo-worker demo`: everything a newcomer needs in one command.

An embedded PostgreSQL in CAPO_DATA_DIR (DATABASE_URL is ignored, so a demo
never touches a real database), the migrations, a generated demo league when
the default tenant has none, one admin stats job, then the worker and the
HTTP service in one process, with the admin page's address printed.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable

from capo_worker import queue
from capo_worker.config import DEFAULT_TENANT_ID, Settings
from capo_worker.runtime import open_runtime
from capo_worker.timestamps import iso_utc_ms
from capo_worker.web.security import check_listen_allowed
from capo_worker.web.server import serve

log = logging.getLogger(__name__)

DEMO_SIZE = "small"
DEMO_SEED = 1


def demo_settings(settings: Settings) -> Settings:
    """The operator's settings, but always on the embedded database."""
    if settings.database_url:
        log.warning("capo-worker demo uses its embedded PostgreSQL; DATABASE_URL is ignored")
    return settings.model_copy(update={"database_url": None, "supabase_url": None})


async def ensure_demo_league(conn: queue.Conn) -> int | None:
    """Load the demo league into the default tenant unless it has a league; return its size."""
    cur = await conn.execute(
        """SELECT EXISTS (SELECT 1 FROM matches WHERE tenant_id = %(t)s)
               OR EXISTS (SELECT 1 FROM players WHERE tenant_id = %(t)s)""",
        {"t": DEFAULT_TENANT_ID},
    )
    row = await cur.fetchone()
    if row and row[0]:
        return None
    from capo_worker.league.demo import generate_league
    from capo_worker.league.importer import import_league

    league = await asyncio.to_thread(generate_league, size=DEMO_SIZE, seed=DEMO_SEED)
    await import_league(conn, league, DEFAULT_TENANT_ID, renumber=True)
    return len(league.matches)


async def enqueue_demo_job(conn: queue.Conn, settings: Settings) -> queue.EnqueueResult:
    request_id = f"demo-{uuid.uuid4()}"
    payload = {
        "triggeredBy": "admin",
        "requestId": request_id,
        "timestamp": iso_utc_ms(),
        "userId": "demo",
    }
    return await queue.enqueue(
        conn,
        payload=payload,
        request_id=request_id,
        tenant_id=DEFAULT_TENANT_ID,
        priority=queue.priority_for("admin"),
        queue_name=settings.queue_name,
        max_attempts=settings.max_attempts,
    )


async def run_demo(settings: Settings, announce: Callable[[str], None]) -> None:
    from capo_worker.service import stop_on_signals

    settings = demo_settings(settings)
    check_listen_allowed(settings)
    async with open_runtime(
        settings, migrate=settings.migrate_on_start, wait=True, if_behind="wait"
    ) as runtime:
        announce(f"Database: {runtime.database.describe()}")
        async with runtime.pool.connection() as conn:
            matches = await ensure_demo_league(conn)
            job = await enqueue_demo_job(conn, settings)
        if matches is not None:
            announce(f"Loaded a demo league ({DEMO_SIZE}, {matches} matches).")
        else:
            announce("The database already has a league; keeping it.")
        announce(f"Enqueued stats job {job.job_id}.")
        stop = asyncio.Event()
        stop_on_signals(stop)

        def listening(url: str) -> None:
            announce(f"Admin page: {url}/admin/info")
            announce(f"League stats: {url}/stats")
            announce("Press Ctrl+C to stop.")

        await serve(runtime, stop, with_worker=True, on_listening=listening)
