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
from capo_worker.cli.common import run_async, say, settings_from_env
from capo_worker.config import Settings
from capo_worker.constants import DEFAULT_TENANT_ID
from capo_worker.runtime import Runtime
from capo_worker.service import run_service
from capo_worker.stats.requests import StatsRequest, enqueue_stats
from capo_worker.tenants import has_league

log = logging.getLogger(__name__)

DEMO_SIZE = "small"
DEMO_SEED = 1


def demo() -> None:
    """Embedded PostgreSQL, a demo league, an admin job, worker and web; prints the address."""
    settings = settings_from_env(service=True)
    run_async(lambda: run_demo(settings, say))  # never wrapped: the psql line is pasted whole


def demo_settings(settings: Settings) -> Settings:
    """The operator's settings, but always on the embedded database."""
    if settings.database_url:
        log.warning("capo-worker demo uses its embedded PostgreSQL; DATABASE_URL is ignored")
    return settings.model_copy(update={"database_url": None, "supabase_url": None})


async def ensure_demo_league(conn: queue.Conn) -> int | None:
    """Load the demo league into the default tenant unless it has a league; return its size."""
    if await has_league(conn, DEFAULT_TENANT_ID):
        return None
    from capo_worker.league.demo import generate_league
    from capo_worker.league.importer import import_league

    league = await asyncio.to_thread(generate_league, size=DEMO_SIZE, seed=DEMO_SEED)
    await import_league(conn, league, DEFAULT_TENANT_ID, renumber=True)
    return len(league.matches)


async def run_demo(settings: Settings, announce: Callable[[str], None]) -> None:
    settings = demo_settings(settings)

    async def prepare(runtime: Runtime) -> None:
        announce(f"Database: {runtime.database.describe()}")
        if runtime.database.embedded is not None:
            announce(
                f"Open it with psql while the demo runs: {runtime.database.embedded.psql_command()}"
            )
        async with runtime.pool.connection() as conn:
            matches = await ensure_demo_league(conn)
            request = StatsRequest.new("admin", user_id="demo", request_id=f"demo-{uuid.uuid4()}")
            job = await enqueue_stats(conn, request, DEFAULT_TENANT_ID, settings)
        if matches is not None:
            announce(f"Loaded a demo league ({DEMO_SIZE}, {matches} matches).")
        else:
            announce("The database already has a league; keeping it.")
        announce(f"Enqueued stats job {job.job_id}.")

    def listening(url: str) -> None:
        announce(f"Admin page: {url}/admin/info")
        announce(f"League stats: {url}/stats")
        announce("Press Ctrl+C to stop.")

    await run_service(settings, web=True, worker=True, prepare=prepare, on_listening=listening)
