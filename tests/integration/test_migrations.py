"""Migrations: applied once, in order, recorded; a schema version no build downgrades;
function files repaired when changed by hand, re-applied in place; clear failures."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Sequence

import psycopg
import pytest

from capo_worker.migrate import (
    AppliedStep,
    Build,
    Migration,
    MigrationError,
    Step,
    all_migrations,
    apply_migrations,
    migrate,
    pending_migrations,
    schema_status,
    this_build,
)
from capo_worker.schema_gate import SchemaGate
from capo_worker.schema_version import SCHEMA_VERSION
from capo_worker.stats.registry import STATS_FUNCTIONS
from tests.support.db import execute, query

FUNCTION_FILE = "update_power_ratings.sql"


def applied_names(url: str) -> list[str]:
    return [r[0] for r in query(url, "SELECT name FROM capo_schema_migrations ORDER BY name")]


def names(steps: Sequence[Step | AppliedStep]) -> list[str]:
    return [s.name for s in steps]


def mark_stale(url: str, name: str) -> None:
    """As if the file had changed since it was applied."""
    execute(url, "UPDATE capo_schema_migrations SET checksum = 'stale' WHERE name = %s", name)


def database_version(url: str) -> int:
    return int(query(url, "SELECT version FROM capo_schema_version")[0][0])


def build_with(
    version: int, *, changed: dict[str, str] | None = None, extra: list[Migration] | None = None
) -> Build:
    """A build of capo-worker: this one's files, some changed, some added."""
    files = [
        dataclasses.replace(m, sql=m.sql + changed[m.name]) if changed and m.name in changed else m
        for m in all_migrations()
    ]
    versioned = [m for m in [*files, *(extra or [])] if m.kind == "versioned"]
    repeatable = [m for m in files if m.kind == "repeatable"]
    return Build(version, sorted(versioned, key=lambda m: m.name) + repeatable)


async def status_of(url: str, build: Build | None = None) -> tuple[str, list[str]]:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        status = await schema_status(conn, build=build)
    return status.state, names(status.steps)


async def apply(url: str, build: Build | None = None, **options: float | bool) -> list[str]:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        report = await apply_migrations(conn, build=build, **options)  # type: ignore[arg-type]
    return names(report.applied)


async def test_fresh_database_gets_every_migration_once(empty_db_url: str) -> None:
    report = await migrate(empty_db_url)
    expected = [m.name for m in all_migrations()]
    assert names(report.applied) == expected
    assert sorted(applied_names(empty_db_url)) == sorted(expected)
    assert database_version(empty_db_url) == SCHEMA_VERSION
    assert (await migrate(empty_db_url)).applied == []  # re-running is a no-op
    async with await psycopg.AsyncConnection.connect(empty_db_url) as conn:
        assert await pending_migrations(conn) == []
    assert await status_of(empty_db_url) == ("current", [])


async def test_concurrent_starts_apply_each_migration_once(empty_db_url: str) -> None:
    reports = await asyncio.gather(*(migrate(empty_db_url) for _ in range(5)))
    applied = [step.name for report in reports for step in report.applied]
    assert sorted(applied) == sorted(m.name for m in all_migrations())
    assert len(applied_names(empty_db_url)) == len(all_migrations())


async def test_a_changed_function_file_is_applied_again(db_url: str) -> None:
    mark_stale(db_url, "_common.sql")
    assert await status_of(db_url) == ("behind", ["_common.sql"])
    assert await apply(db_url) == ["_common.sql"]
    assert await status_of(db_url) == ("current", [])


async def test_migrations_adopt_an_existing_reference_job_table(empty_db_url: str) -> None:
    # The reference's script created the table without our columns; rows exist.
    execute(
        empty_db_url,
        """CREATE TABLE background_job_status (
               id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
               job_type text NOT NULL DEFAULT 'stats_update',
               job_payload jsonb NOT NULL,
               status text NOT NULL DEFAULT 'queued',
               started_at timestamptz, completed_at timestamptz,
               retry_count integer NOT NULL DEFAULT 0, priority integer DEFAULT 1,
               tenant_id uuid, error_message text, results jsonb,
               created_at timestamptz DEFAULT now(), updated_at timestamptz DEFAULT now())""",
    )
    execute(
        empty_db_url,
        """INSERT INTO background_job_status (job_payload, status)
           VALUES ('{"triggeredBy": "admin"}', 'completed')""",
    )
    await migrate(empty_db_url)
    row = query(
        empty_db_url,
        "SELECT status, attempts, max_attempts, queue_name, attempt_errors "
        "FROM background_job_status",
    )
    assert row == [("completed", 0, 3, "stats-update-queue", [])]


def test_the_stats_functions_have_two_signatures_and_no_default(db_url: str) -> None:
    rows = query(
        db_url,
        """SELECT proname, pg_get_function_identity_arguments(oid), pronargdefaults,
                  pg_get_function_result(oid)
           FROM pg_proc WHERE proname = ANY(%s) ORDER BY 1, 2""",
        [f.name for f in STATS_FUNCTIONS],
    )
    expected = []
    for name in sorted(f.name for f in STATS_FUNCTIONS):
        expected += [(name, "", 0, "void"), (name, "target_tenant_id uuid", 0, "jsonb")]
    assert rows == expected


async def test_an_older_build_never_downgrades_the_schema(db_url: str) -> None:
    marker = "\n-- older build\n"
    older = build_with(SCHEMA_VERSION - 1, changed={FUNCTION_FILE: marker})
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        report = await apply_migrations(conn, build=older)
    assert report.refused and report.applied == []
    assert database_version(db_url) == SCHEMA_VERSION
    assert await status_of(db_url) == ("current", [])  # this build's functions are intact
    state, _ = await status_of(db_url, older)
    assert state == "ahead"
    async with await psycopg.AsyncConnection.connect(db_url) as conn:
        line = (await schema_status(conn, build=older)).describe()
    assert f"version {SCHEMA_VERSION}" in line and f"{SCHEMA_VERSION - 1}" in line
    assert "run capo-worker migrate" not in line and "\n" not in line


async def test_a_rolling_deploy_does_not_flip_flop(db_url: str) -> None:
    """Old and new builds start in turn, as during a rolling deploy: the new build's
    functions are installed once and stay."""
    current = this_build()
    newer = build_with(SCHEMA_VERSION + 1, changed={FUNCTION_FILE: "\n-- newer build\n"})
    applied = []
    for build in (newer, current, newer, current, current, newer):
        applied.append(await apply(db_url, build))
    assert applied == [[FUNCTION_FILE], [], [], [], [], []]
    assert database_version(db_url) == SCHEMA_VERSION + 1
    source = query(
        db_url, "SELECT checksum FROM capo_schema_migrations WHERE name = %s", FUNCTION_FILE
    )
    file = next(m for m in newer.files if m.name == FUNCTION_FILE)
    assert source == [(file.checksum,)]


async def test_an_older_build_does_not_claim_jobs(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="capo_worker")
    execute(db_url, "UPDATE capo_schema_version SET version = version + 1")
    async with await psycopg.AsyncConnection.connect(db_url) as conn:
        gate = SchemaGate(recheck_seconds=0)
        assert await gate.may_claim(conn) is False
        assert await gate.may_claim(conn) is False
        assert not gate.allows_work  # nor rescue, prune or cron
        blocked = [r.getMessage() for r in caplog.records if "Not claiming jobs" in r.getMessage()]
        assert len(blocked) == 1  # one clear line, not one per check
        assert f"version {SCHEMA_VERSION + 1}" in blocked[0]
        execute(db_url, "UPDATE capo_schema_version SET version = version - 1")
        assert await gate.may_claim(conn) is True
    assert any("Claiming jobs again" in r.getMessage() for r in caplog.records)


async def test_a_function_dropped_or_replaced_by_hand_is_reported_and_repaired(
    db_url: str,
) -> None:
    execute(db_url, "DROP FUNCTION update_power_ratings()")
    execute(
        db_url,
        """CREATE OR REPLACE FUNCTION update_aggregated_all_time_stats(target_tenant_id uuid)
           RETURNS jsonb LANGUAGE sql AS $$ SELECT '{}'::jsonb $$""",
    )
    async with await psycopg.AsyncConnection.connect(db_url) as conn:
        status = await schema_status(conn)
        assert status.state == "modified" and status.usable  # workers go on
        assert await SchemaGate(recheck_seconds=0).may_claim(conn)
    assert "run capo-worker migrate to restore it" in status.describe()
    # Starting a service does not undo changes made by hand; `capo-worker migrate` does.
    assert await apply(db_url, repair=False) == []
    assert [(s.name, s.reason) for s in status.steps] == [
        ("update_aggregated_all_time_stats.sql", "changed outside capo-worker"),
        ("update_power_ratings.sql", "changed outside capo-worker"),
    ]
    assert await apply(db_url) == [
        "update_aggregated_all_time_stats.sql",
        "update_power_ratings.sql",
    ]
    assert await status_of(db_url) == ("current", [])
    assert query(db_url, "SELECT update_power_ratings()") == [("",)]


async def test_reapplying_a_function_file_keeps_grants_and_comments(db_url: str) -> None:
    execute(db_url, "REVOKE EXECUTE ON FUNCTION update_power_ratings(uuid) FROM PUBLIC")
    execute(db_url, "COMMENT ON FUNCTION update_power_ratings() IS 'called by the app'")
    acl = "SELECT proacl::text FROM pg_proc WHERE oid = 'update_power_ratings(uuid)'::regprocedure"
    acl_before = query(db_url, acl)
    mark_stale(db_url, FUNCTION_FILE)
    assert await apply(db_url) == [FUNCTION_FILE]
    acl_after = query(db_url, acl)
    assert acl_after == acl_before
    assert not any(entry.startswith("=") for entry in acl_after[0][0].strip("{}").split(","))
    comment = query(
        db_url, "SELECT obj_description('update_power_ratings()'::regprocedure, 'pg_proc')"
    )
    assert comment == [("called by the app",)]


async def test_dry_run_lists_the_plan_and_changes_nothing(empty_db_url: str) -> None:
    report = await migrate(empty_db_url, dry_run=True)
    assert names(report.before.steps) == [m.name for m in all_migrations()]
    assert report.applied == []
    assert query(
        empty_db_url, "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace"
    ) == [(0,)]


async def test_a_failing_file_changes_nothing_and_says_why_in_one_line(db_url: str) -> None:
    broken = Migration("versioned", "0999_broken.sql", "CREATE TABLE t_half (a int);\nSELECT 1/0;")
    build = build_with(SCHEMA_VERSION + 1, extra=[broken])
    with pytest.raises(MigrationError) as failure:
        await apply(db_url, build)
    message = str(failure.value)
    assert "0999_broken.sql" in message and "division by zero" in message
    assert "Nothing of 0999_broken.sql was applied" in message and "\n" not in message
    assert query(db_url, "SELECT to_regclass('t_half')") == [(None,)]
    assert "0999_broken.sql" not in applied_names(db_url)
    assert database_version(db_url) == SCHEMA_VERSION


async def test_a_table_locked_by_another_session_fails_the_file_with_a_hint(db_url: str) -> None:
    alter = Migration("versioned", "0999_alter.sql", "ALTER TABLE players ADD COLUMN x int;")
    build = build_with(SCHEMA_VERSION + 1, extra=[alter])
    with psycopg.connect(db_url) as holder:
        holder.execute("LOCK TABLE players IN ACCESS SHARE MODE")
        with pytest.raises(MigrationError, match="lock") as failure:
            await apply(db_url, build, lock_timeout_seconds=0.2)
    assert "run capo-worker migrate again" in str(failure.value)
    column_x = query(
        db_url,
        "SELECT count(*) FROM pg_attribute WHERE attrelid = 'players'::regclass AND attname = 'x'",
    )
    assert column_x == [(0,)]
    assert await apply(db_url, build) == ["0999_alter.sql"]


async def test_a_worker_of_an_older_build_leaves_the_queue_to_the_newer_one(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    from capo_worker import queue
    from capo_worker.runtime import open_runtime
    from capo_worker.service import build_worker
    from tests.support.web import settings_for

    caplog.set_level(logging.INFO, logger="capo_worker")
    execute(db_url, "UPDATE capo_schema_version SET version = version + 1")
    settings = settings_for(db_url, poll_interval_ms=50)
    async with open_runtime(settings, migrate=False) as rt:
        worker = build_worker(rt)
        worker.schema_gate = SchemaGate(recheck_seconds=0.2)
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        try:
            async with rt.pool.connection() as conn:
                job = await queue.enqueue(conn, payload={"triggeredBy": "admin"}, request_id="r1")
            await asyncio.sleep(2)  # many claim rounds: none may take the job
            assert query(db_url, "SELECT status FROM background_job_status") == [("queued",)]
            blocked = [r for r in caplog.records if "Not claiming jobs" in r.getMessage()]
            assert len(blocked) == 1
            execute(db_url, "UPDATE capo_schema_version SET version = version - 1")
            for _ in range(600):  # a deadline against hanging, not a timing assertion
                async with rt.pool.connection() as conn:
                    current = await queue.get_job(conn, job.job_id)
                if current and current.status == "completed":
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("the job was not run once the schema was this build's")
        finally:
            stop.set()
            await task
