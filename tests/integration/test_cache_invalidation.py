"""The cache-invalidation webhook against a real local HTTP server, and the
retry of a job whose invalidation failed (the stats are not computed again).

The server is a small stand-in for the web app's
`POST /api/internal/cache/invalidate` (spec 50 §b): Bearer key check first,
then per-tag revalidation answering 200, or 207 with the failed tags. Tests
script it per request (a status, a hang, a tag that fails N times).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from capo_worker import queue
from capo_worker.config import Settings, load_settings
from capo_worker.constants import STATS_JOB_TYPE
from capo_worker.handlers import Job, JobContext
from capo_worker.runtime import open_runtime
from capo_worker.service import build_worker
from capo_worker.stats.job import (
    StatsUpdateHandler,
)
from capo_worker.stats.pipeline import NOT_CONFIGURED, NOTHING_TO_INVALIDATE
from capo_worker.stats.registry import ALL_CACHE_TAGS, STATS_FUNCTIONS, StatsFunction
from capo_worker.stats.runner import StatsRunner
from tests.support.leagues import load_fixture
from tests.support.webapp import KEY, StandInWebApp, client, running_webapp


@pytest.fixture
def webapp() -> Iterator[StandInWebApp]:
    with running_webapp() as app:
        yield app


TEST_FUNCTIONS = (
    StatsFunction("t_ok", ("tag_ok1", "tag_ok2")),
    StatsFunction("t_fail", ("tag_fail",)),
    StatsFunction("t_after_fail", ("tag_after_fail",), depends_on=("t_fail",)),
    StatsFunction("t_ok_too", ("tag_ok3",)),
)


@pytest.fixture
async def pool(db_url: str) -> AsyncIterator[AsyncConnectionPool]:
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        for name in ("t_ok", "t_after_fail", "t_ok_too"):
            await conn.execute(
                f"CREATE FUNCTION {name}(uuid DEFAULT NULL) RETURNS jsonb "
                "LANGUAGE sql AS 'SELECT NULL::jsonb'".encode()
            )
        await conn.execute(
            "CREATE FUNCTION t_fail(uuid DEFAULT NULL) RETURNS jsonb LANGUAGE plpgsql "
            "AS $$ BEGIN RAISE EXCEPTION 'broken on purpose'; END $$"
        )
    async with AsyncConnectionPool(db_url, min_size=1, max_size=6, open=False) as p:
        yield p


async def claimed_job(pool: AsyncConnectionPool, trigger: str = "admin") -> Job:
    async with pool.connection() as conn:
        await queue.enqueue(
            conn, payload={"triggeredBy": trigger, "requestId": "req-77"}, request_id="req-77"
        )
        [job] = await queue.claim(conn, worker_id="w", job_types=[STATS_JOB_TYPE], lease_seconds=60)
    return job


def context(pool: AsyncConnectionPool) -> JobContext:
    return JobContext(pool, load_settings(env_file=None), "w", logging.getLogger("test"))


async def test_only_the_tags_of_successful_functions_are_sent(
    webapp: StandInWebApp, pool: AsyncConnectionPool
) -> None:
    handler = StatsUpdateHandler(StatsRunner(pool, functions=TEST_FUNCTIONS), client(webapp))
    outcome = await handler(await claimed_job(pool), context(pool))
    assert [r.body for r in webapp.received] == [
        {"tags": ["tag_ok1", "tag_ok2", "tag_ok3"], "source": "job-admin", "requestId": "req-77"}
    ]
    assert not outcome.ok and outcome.retryable
    assert outcome.error == "2/4 stats functions failed (t_fail, t_after_fail)"
    assert outcome.results["cache_invalidation_success"] is True
    assert outcome.results["cache_invalidation"]["tags"] == dict.fromkeys(
        ["tag_ok1", "tag_ok2", "tag_ok3"], "invalidated"
    )
    assert outcome.results["stats_attempt"] == 1 and outcome.results["stats_reused"] is False


async def test_a_failed_invalidation_fails_the_job_with_the_reference_message(
    webapp: StandInWebApp, pool: AsyncConnectionPool
) -> None:
    webapp.plan = [500, 500, 500]
    ok_only = (TEST_FUNCTIONS[0], TEST_FUNCTIONS[3])
    handler = StatsUpdateHandler(StatsRunner(pool, functions=ok_only), client(webapp))
    outcome = await handler(await claimed_job(pool, "cron"), context(pool))
    assert not outcome.ok and outcome.retryable
    assert outcome.error == "Cache invalidation failed: HTTP 500: boom 500"
    assert outcome.results["cache_invalidation_success"] is False
    assert outcome.results["cache_invalidation"]["failed_tags"] == ["tag_ok1", "tag_ok2", "tag_ok3"]
    assert webapp.received[0].body["source"] == "job-cron"


async def test_a_rejected_key_is_not_retried_automatically(
    webapp: StandInWebApp, pool: AsyncConnectionPool
) -> None:
    ok_only = (TEST_FUNCTIONS[0],)
    bad_key = client(webapp, key="nope")
    outcome = await StatsUpdateHandler(StatsRunner(pool, functions=ok_only), bad_key)(
        await claimed_job(pool), context(pool)
    )
    assert not outcome.ok and not outcome.retryable
    assert outcome.results["cache_invalidation"]["permanent"] is True


async def test_without_an_app_url_invalidation_is_skipped_and_said(
    pool: AsyncConnectionPool,
) -> None:
    ok_only = (TEST_FUNCTIONS[0],)
    outcome = await StatsUpdateHandler(StatsRunner(pool, functions=ok_only), None)(
        await claimed_job(pool), context(pool)
    )
    assert outcome.ok and outcome.error is None
    assert outcome.results["cache_invalidation"] == {"skipped": True, "reason": NOT_CONFIGURED}
    assert outcome.results["cache_invalidation_success"] is None


async def test_nothing_is_sent_when_no_function_succeeded(
    webapp: StandInWebApp, pool: AsyncConnectionPool
) -> None:
    only_failing = (TEST_FUNCTIONS[1],)
    outcome = await StatsUpdateHandler(StatsRunner(pool, functions=only_failing), client(webapp))(
        await claimed_job(pool), context(pool)
    )
    assert webapp.received == []
    assert outcome.results["cache_invalidation"]["reason"] == NOTHING_TO_INVALIDATE
    assert outcome.error == "1/1 stats functions failed (t_fail)"


def cache_snapshot(db_url: str) -> dict[str, Any]:
    """When each cache key was last written by a stats function (a recompute changes it)."""
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT cache_key, last_invalidated FROM cache_metadata").fetchall()
    return dict(rows)


@contextlib.asynccontextmanager
async def running_worker(settings: Settings) -> AsyncIterator[AsyncConnectionPool]:
    async with open_runtime(settings) as rt:
        stop = asyncio.Event()
        task = asyncio.create_task(build_worker(rt).run(stop))
        try:
            yield rt.pool
        finally:
            stop.set()
            await task


async def wait_for_status(pool: AsyncConnectionPool, job_id: str, *statuses: str) -> Job:
    last = "unknown"
    for _ in range(1200):  # a deadline against hanging, not a timing assertion
        async with pool.connection() as conn:
            job = await queue.get_job(conn, job_id)
        assert job is not None
        if job.status in statuses:
            return job
        last = job.status
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} stayed {last}")


def count_stats_calls(db_url: str) -> Callable[[], dict[str, int]]:
    """Wrap every stats function so each call is recorded; return a reader of the counts.

    A call that fails is rolled back with its record, so the counts are the
    successful calls: the ones that rewrote aggregated tables.
    """
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE test_stats_calls (function text NOT NULL)")
        for fn in STATS_FUNCTIONS:
            returns = conn.execute(
                "SELECT pg_get_function_result(%s::regprocedure)", (f"{fn.name}(uuid)",)
            ).fetchone()
            assert returns is not None
            call = (
                f"PERFORM {fn.name}__counted(t); RETURN;"
                if returns[0] == "void"
                else f"RETURN {fn.name}__counted(t);"
            )
            conn.execute(f"ALTER FUNCTION {fn.name}(uuid) RENAME TO {fn.name}__counted".encode())
            conn.execute(
                f"""CREATE FUNCTION {fn.name}(t uuid)
                    RETURNS {returns[0]} LANGUAGE plpgsql AS $$
                    BEGIN
                        INSERT INTO test_stats_calls VALUES ('{fn.name}');
                        {call}
                    END $$""".encode()
            )

    def counts() -> dict[str, int]:
        with psycopg.connect(db_url) as conn:
            rows = conn.execute(
                "SELECT function, count(*) FROM test_stats_calls GROUP BY function"
            ).fetchall()
        return {str(name): int(n) for name, n in rows}

    return counts


ONCE_EACH = {f.name: 1 for f in STATS_FUNCTIONS}

TWICE_EACH = {f.name: 2 for f in STATS_FUNCTIONS}


def worker_settings(db_url: str, webapp: StandInWebApp) -> Settings:
    return load_settings(
        env_file=None,
        database_url=db_url,
        next_public_app_url=webapp.base_url,
        internal_api_key=KEY,
        cron_schedule="off",
        retry_backoff_seconds=0,
        poll_interval_ms=50,
        worker_id="retry-test-worker",
    )


async def enqueue_admin_job(pool: AsyncConnectionPool) -> str:
    async with pool.connection() as conn:
        body = {"triggeredBy": "admin", "requestId": "req-retry"}
        return (await queue.enqueue(conn, payload=body, request_id="req-retry")).job_id


async def test_automatic_retry_sends_only_the_failed_tags_and_keeps_the_stats(
    db_url: str, webapp: StandInWebApp
) -> None:
    await asyncio.to_thread(load_fixture, db_url, "tiny")
    stats_calls = count_stats_calls(db_url)
    snapshots: list[dict[str, Any]] = []
    webapp.on_request = lambda: snapshots.append(cache_snapshot(db_url))
    # hall_of_fame fails in all three requests of the first attempt, then works.
    webapp.broken = {"hall_of_fame": 3}
    async with running_worker(worker_settings(db_url, webapp)) as pool:
        job_id = await enqueue_admin_job(pool)
        job = await wait_for_status(pool, job_id, "completed", "failed")

    assert job.status == "completed" and job.attempts == 2
    assert stats_calls() == ONCE_EACH  # the stats ran once, in attempt 1
    assert cache_snapshot(db_url) == snapshots[0]  # and nothing rewrote the tables since
    assert len(snapshots[0]) == len(ALL_CACHE_TAGS)
    assert webapp.tag_lists == [
        list(ALL_CACHE_TAGS),
        ["hall_of_fame"],
        ["hall_of_fame"],
        ["hall_of_fame"],
    ]
    assert [e["error"] for e in job.attempt_errors] == [
        "Cache invalidation failed: HTTP 207: Failed to invalidate 1 tags"
    ]
    results = job.results
    assert results is not None
    assert results["attempt"] == 2 and results["stats_attempt"] == 1
    assert results["stats_reused"] is True and results["cache_invalidation_success"] is True
    assert results["successful_functions"] == results["total_functions"] == 10
    invalidation = results["cache_invalidation"]
    assert invalidation["tags"] == dict.fromkeys(ALL_CACHE_TAGS, "invalidated")
    assert sorted(invalidation["already_invalidated_tags"]) == sorted(
        t for t in ALL_CACHE_TAGS if t != "hall_of_fame"
    )


async def test_manual_retry_sends_only_the_invalidation(db_url: str, webapp: StandInWebApp) -> None:
    await asyncio.to_thread(load_fixture, db_url, "tiny")
    stats_calls = count_stats_calls(db_url)
    snapshots: list[dict[str, Any]] = []
    webapp.on_request = lambda: snapshots.append(cache_snapshot(db_url))
    webapp.plan = [401]  # the app rejects the key (say, mid-rotation): not retried by itself
    async with running_worker(worker_settings(db_url, webapp)) as pool:
        job_id = await enqueue_admin_job(pool)
        failed = await wait_for_status(pool, job_id, "completed", "failed")
        assert failed.status == "failed" and failed.attempts == 1
        assert failed.error_message == (
            "Cache invalidation failed: HTTP 401: Unauthorized - Invalid or missing API key"
        )
        async with pool.connection() as conn:
            assert await queue.retry(conn, job_id=job_id) is not None  # as `jobs retry` does
        job = await wait_for_status(pool, job_id, "completed", "failed")

    assert job.status == "completed" and job.retry_count == 1 and job.attempts == 2
    assert stats_calls() == ONCE_EACH
    assert cache_snapshot(db_url) == snapshots[0]
    assert webapp.tag_lists == [list(ALL_CACHE_TAGS), list(ALL_CACHE_TAGS)]
    assert job.results is not None
    assert job.results["stats_attempt"] == 1 and job.results["stats_reused"] is True
    assert job.results["cache_invalidation_success"] is True and job.error_message is None


async def test_a_retry_after_a_failed_function_recomputes_everything(
    db_url: str, webapp: StandInWebApp
) -> None:
    await asyncio.to_thread(load_fixture, db_url, "tiny")
    stats_calls = count_stats_calls(db_url)
    with psycopg.connect(db_url, autocommit=True) as conn:
        # update_power_ratings fails on its first call only (a sequence is not rolled back).
        conn.execute("CREATE SEQUENCE power_ratings_failures")
        conn.execute("ALTER FUNCTION update_power_ratings(uuid) RENAME TO power_ratings_once")
        conn.execute(
            b"""CREATE FUNCTION update_power_ratings(t uuid)
                RETURNS jsonb LANGUAGE plpgsql AS $$
                BEGIN
                    IF nextval('power_ratings_failures') = 1 THEN
                        RAISE EXCEPTION 'failing once on purpose';
                    END IF;
                    RETURN power_ratings_once(t);
                END $$"""
        )
    async with running_worker(worker_settings(db_url, webapp)) as pool:
        job_id = await enqueue_admin_job(pool)
        job = await wait_for_status(pool, job_id, "completed", "failed")
    assert job.status == "completed" and job.attempts == 2
    # Attempt 1 had a failed function: attempt 2 ran every function again.
    assert stats_calls() == {**TWICE_EACH, "update_power_ratings": 1}
    assert job.results is not None
    assert job.results["stats_attempt"] == 2 and job.results["stats_reused"] is False
    assert webapp.tag_lists[0] == [t for t in ALL_CACHE_TAGS if t != "player_power_rating"]
    assert webapp.tag_lists[1] == list(ALL_CACHE_TAGS)
