"""Shared helpers of the web tests: an app over a test database, and database probes."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
from psycopg_pool import AsyncConnectionPool

from capo_worker.config import Settings
from capo_worker.db import make_pool
from capo_worker.web import create_app
from tests.support.db import execute, query

ADMIN_KEY = "test-admin-key-7f3a9c2e1b"
TENANT_B = "00000000-0000-0000-0000-0000000000b2"


def settings_for(db_url: str, **overrides: Any) -> Settings:
    """Settings for a test: our database, no key, every flag on, unless overridden."""
    values: dict[str, Any] = {
        "database_url": db_url,
        "admin_api_key": None,
        "use_bg_jobs_global": True,
        "use_bg_jobs_admin": True,
        "use_bg_jobs_cron": True,
        "use_bg_jobs_match": True,
        "next_public_app_url": None,
        "cache_invalidation_url": None,
        "supabase_url": None,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


# The app answers only requests that name it by a loopback or configured name.
BASE_URL = "http://127.0.0.1:8000"


@contextlib.asynccontextmanager
async def app_client(
    db_url: str,
    settings: Settings | None = None,
    *,
    peer: str = "127.0.0.1",
    **overrides: Any,
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in this event loop, over a pool on `db_url`.

    `peer` is the client address the app sees.
    """
    settings = settings or settings_for(db_url, **overrides)
    pool: AsyncConnectionPool = make_pool(db_url, max_size=6)
    await pool.open(wait=True)
    try:
        app = create_app(settings, pool)
        transport = httpx.ASGITransport(app=app, client=(peer, 50000))
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            yield client
    finally:
        await pool.close()


def job_rows(db_url: str) -> int:
    """Jobs plus recorded request ids: zero means the API wrote nothing."""
    jobs = query(db_url, "SELECT count(*) FROM background_job_status")[0][0]
    requests = query(db_url, "SELECT count(*) FROM background_job_requests")[0][0]
    return int(jobs) + int(requests)


def insert_job(
    db_url: str,
    *,
    status: str,
    trigger: str = "admin",
    attempts: int = 0,
    error: str | None = None,
    results: str | None = None,
    age_seconds: int = 0,
) -> str:
    started = "now() - interval '2 seconds'" if status != "queued" else "NULL"
    completed = "now()" if status in ("completed", "failed") else "NULL"
    rows = query(
        db_url,
        f"""INSERT INTO background_job_status
               (job_payload, status, attempts, max_attempts, error_message, results,
                created_at, started_at, completed_at)
            VALUES (jsonb_build_object('triggeredBy', %s::text, 'requestId', gen_random_uuid()),
                    %s, %s, 3, %s, %s::jsonb, now() - make_interval(secs => %s),
                    {started}, {completed})
            RETURNING id::text""",
        trigger,
        status,
        attempts,
        error,
        results,
        age_seconds,
    )
    return str(rows[0][0])


def pin_today(db_url: str, day: str) -> None:
    """Every later session of this database computes stats as if today were `day`."""
    name = query(db_url, "SELECT current_database()")[0][0]
    execute(db_url, f"ALTER DATABASE \"{name}\" SET capo.as_of = '{day}'")


def http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def break_function(db_url: str, name: str, message: str) -> None:
    """Replace the runner's signature of a stats function, fn(uuid), by one that raises
    `message`."""
    rows = query(
        db_url,
        "SELECT pg_get_function_arguments(%s::regprocedure), "
        "pg_get_function_result(%s::regprocedure)",
        f"{name}(uuid)",
        f"{name}(uuid)",
    )
    arguments, result = rows[0]
    execute(
        db_url,
        f"""CREATE OR REPLACE FUNCTION {name}({arguments}) RETURNS {result}
            LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '{message}'; END $$""",
    )


def restore_function(db_url: str, name: str) -> None:
    """Re-install a stats function from its SQL file."""
    from importlib import resources

    sql = resources.files("capo_worker.stats.sql").joinpath(f"{name}.sql").read_text("utf-8")
    execute(db_url, sql)


def from_peer(client: httpx.AsyncClient, peer: str) -> httpx.AsyncClient:
    """Another client of the same app, seen by it as coming from address `peer`."""
    transport = client._transport
    assert isinstance(transport, httpx.ASGITransport)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=transport.app, client=(peer, 50000)), base_url=BASE_URL
    )


def csrf_of(page_html: str) -> str:
    """The CSRF token a signed-in page carries."""
    marker = 'name="csrf-token" content="'
    start = page_html.index(marker) + len(marker)
    return page_html[start : page_html.index('"', start)]
