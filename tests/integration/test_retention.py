"""Retention: finished jobs older than the limit are pruned, active ones never.

The same rule is applied three ways: queue.prune, the workers' periodic task
(JOB_RETENTION_DAYS) and `capo-worker jobs prune`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from capo_worker import queue
from capo_worker.config import load_settings
from capo_worker.service import prune_interval_seconds, prune_task

Conn = psycopg.AsyncConnection[Any]


@pytest.fixture
async def conn(db_url: str) -> AsyncIterator[Conn]:
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as c:
        yield c


async def job(conn: Conn, name: str, status: str, days_ago: float, **columns: Any) -> str:
    """A job `name` in `status`, finished (or created, if active) `days_ago` days ago."""
    body = {"triggeredBy": "admin", "requestId": name}
    job_id = (await queue.enqueue(conn, payload=body, request_id=name, coalesce=False)).job_id
    finished = status in ("completed", "failed")
    await conn.execute(
        """UPDATE background_job_status
           SET status = %(status)s,
               created_at = now() - make_interval(secs => %(age)s) - interval '1 minute',
               started_at = CASE WHEN %(status)s = 'queued' THEN NULL
                                 ELSE now() - make_interval(secs => %(age)s) END,
               completed_at = CASE WHEN %(finished)s THEN now() - make_interval(secs => %(age)s)
                                   END,
               attempts = %(attempts)s,
               locked_by = CASE WHEN %(status)s = 'processing' THEN 'w' END,
               lease_expires_at = CASE WHEN %(status)s = 'processing'
                                       THEN now() + interval '1 minute' END
           WHERE id = %(id)s""",
        {
            "status": status,
            "age": days_ago * 86400,
            "finished": finished,
            "attempts": columns.get("attempts", 0 if status == "queued" else 1),
            "id": job_id,
        },
    )
    return name


async def remaining(conn: Conn) -> set[str]:
    cur = await conn.execute("SELECT job_payload ->> 'requestId' FROM background_job_status")
    return {str(r[0]) for r in await cur.fetchall()}


async def legacy_row(conn: Conn, name: str, days_ago: float) -> str:
    """A finished row as the reference worker left it: no completed_at, old updated_at."""
    await conn.execute(
        """INSERT INTO background_job_status (job_payload, status, created_at, updated_at)
           VALUES (%s::jsonb, 'completed', now() - make_interval(secs => %s),
                   now() - make_interval(secs => %s))""",
        (f'{{"triggeredBy": "admin", "requestId": "{name}"}}', days_ago * 86400, days_ago * 86400),
    )
    return name


async def a_mix_of_jobs(conn: Conn) -> tuple[set[str], set[str]]:
    """(names that prune at 7 days must delete, names it must keep)."""
    old = {
        await job(conn, "completed-10d", "completed", 10),
        await job(conn, "failed-10d", "failed", 10),
        await job(conn, "failed-7.1d", "failed", 7.1),
    }
    keep = {
        # Finished by the Node worker before adoption: kept unless include_legacy.
        await legacy_row(conn, "legacy-completed-9d", 9),
        await job(conn, "completed-1d", "completed", 1),
        await job(conn, "failed-6.9d", "failed", 6.9),
        await job(conn, "queued-30d", "queued", 30),
        await job(conn, "processing-30d", "processing", 30),
        # Failed once, waiting for its automatic retry: not finished.
        await job(conn, "retry-pending-30d", "queued", 30, attempts=2),
    }
    return old, keep


async def test_prune_removes_only_finished_jobs_older_than_the_limit(conn: Conn) -> None:
    old, keep = await a_mix_of_jobs(conn)
    assert await queue.prune(conn, older_than_days=7) == len(old)
    assert await remaining(conn) == keep
    # Their request ids went with them: the ids of the kept jobs still resolve
    # (the Node era's row never had one recorded).
    cur = await conn.execute("SELECT request_id FROM background_job_requests")
    assert {str(r[0]) for r in await cur.fetchall()} == keep - {"legacy-completed-9d"}
    assert await queue.prune(conn, older_than_days=7) == 0


async def test_prune_deletes_the_node_eras_jobs_only_when_asked(conn: Conn) -> None:
    old, keep = await a_mix_of_jobs(conn)
    assert await queue.count_legacy_finished(conn, older_than_days=7) == 1
    assert await queue.prune(conn, older_than_days=7, include_legacy=True) == len(old) + 1
    assert await remaining(conn) == keep - {"legacy-completed-9d"}


async def test_the_workers_task_prunes_after_job_retention_days(db_url: str, conn: Conn) -> None:
    await job(conn, "completed-3d", "completed", 3)
    await job(conn, "failed-3d", "failed", 3)
    await job(conn, "completed-1d", "completed", 1)
    await job(conn, "queued-3d", "queued", 3)
    settings = load_settings(env_file=None, database_url=db_url, job_retention_days=2)
    async with AsyncConnectionPool(db_url, min_size=1, max_size=2, open=False) as pool:
        task = prune_task(settings, pool)
        await task.run()
    assert task.name == "prune"
    assert await remaining(conn) == {"completed-1d", "queued-3d"}


def test_the_prune_interval_follows_the_retention() -> None:
    assert prune_interval_seconds(7) == 3600  # at most hourly
    assert prune_interval_seconds(0.01) == 216  # a quarter of 14.4 minutes
    assert prune_interval_seconds(0.0001) == 60  # at least a minute apart


def cli(db_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).with_name("capo-worker")), "jobs", "prune", *args],
        env={**os.environ, "DATABASE_URL": db_url, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_jobs_prune_command_defaults_to_job_retention_days(db_url: str, conn: Conn) -> None:
    old, keep = await a_mix_of_jobs(conn)
    result = cli(db_url, JOB_RETENTION_DAYS="7")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        f"Deleted {len(old)} finished job(s) older than 7 day(s). Kept 1 that the Node worker "
        "finished before capo-worker took over (add --include-legacy to delete them too)."
    )
    assert await remaining(conn) == keep

    result = cli(db_url, "--older-than-days", "0.5", "--include-legacy", JOB_RETENTION_DAYS="7")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Deleted 3 finished job(s) older than 0.5 day(s)."
    assert await remaining(conn) == {"queued-30d", "processing-30d", "retry-pending-30d"}
