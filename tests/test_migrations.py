"""Migrations: applied once, in order, recorded; re-running and concurrent starts are safe."""

from __future__ import annotations

import asyncio
from importlib import resources

import psycopg

from capo_worker.migrate import all_migrations, apply_migrations, migrate, pending_migrations


def applied_names(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT name FROM capo_schema_migrations ORDER BY name").fetchall()
    return [r[0] for r in rows]


async def test_fresh_database_gets_every_migration_once(empty_db_url: str) -> None:
    applied = await migrate(empty_db_url)
    expected = [m.name for m in all_migrations()]
    assert applied == expected
    assert sorted(applied_names(empty_db_url)) == sorted(expected)
    assert await migrate(empty_db_url) == []  # re-running is a no-op
    async with await psycopg.AsyncConnection.connect(empty_db_url) as conn:
        assert await pending_migrations(conn) == []


async def test_versioned_files_run_in_order_before_the_functions() -> None:
    names = [m.name for m in all_migrations()]
    versioned = [m.name for m in all_migrations() if m.kind == "versioned"]
    assert versioned == sorted(versioned) and names[: len(versioned)] == versioned
    assert versioned[0].startswith("0001_")
    sql_files = {
        f.name
        for f in resources.files("capo_worker.stats.sql").iterdir()
        if f.name.endswith(".sql")
    }
    assert sql_files <= set(names)


async def test_concurrent_starts_apply_each_migration_once(empty_db_url: str) -> None:
    results = await asyncio.gather(*(migrate(empty_db_url) for _ in range(5)))
    applied = [name for result in results for name in result]
    assert sorted(applied) == sorted(m.name for m in all_migrations())
    assert len(applied_names(empty_db_url)) == len(all_migrations())


async def test_a_changed_function_file_is_applied_again(db_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        await conn.execute(
            "UPDATE capo_schema_migrations SET checksum = 'stale' WHERE name = '_common.sql'"
        )
        assert await pending_migrations(conn) == ["_common.sql"]
        assert await apply_migrations(conn) == ["_common.sql"]
        assert await pending_migrations(conn) == []


async def test_migrations_adopt_an_existing_reference_job_table(empty_db_url: str) -> None:
    # The reference's script created the table without our columns; rows exist.
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute(
            """CREATE TABLE background_job_status (
                   id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
                   job_type text NOT NULL DEFAULT 'stats_update',
                   job_payload jsonb NOT NULL,
                   status text NOT NULL DEFAULT 'queued',
                   started_at timestamptz, completed_at timestamptz,
                   retry_count integer NOT NULL DEFAULT 0, priority integer DEFAULT 1,
                   tenant_id uuid, error_message text, results jsonb,
                   created_at timestamptz DEFAULT now(), updated_at timestamptz DEFAULT now())"""
        )
        conn.execute(
            """INSERT INTO background_job_status (job_payload, status)
               VALUES ('{"triggeredBy": "admin"}', 'completed')"""
        )
    await migrate(empty_db_url)
    with psycopg.connect(empty_db_url) as conn:
        row = conn.execute(
            "SELECT status, attempts, max_attempts, queue_name, attempt_errors "
            "FROM background_job_status"
        ).fetchone()
    assert row == ("completed", 0, 3, "stats-update-queue", [])
