"""A worker frees a job's slot when its handler succeeds and writes the completion after.

What must still hold while a completion is being written in the background:
the job is recorded completed exactly once, by its current attempt (a lost
attempt's pending completion records nothing); the heartbeat keeps the
lease of a job whose completion is pending; a graceful stop waits for it.
Likewise for jobs claimed beyond the free slots while jobs are quick
(prefetched): a lost lease means the attempt never runs, and a stop gives
them back to the queue untouched.

The database holds a completion back on demand: a trigger refuses, with an
error the worker retries (serialization failure), to mark completed any job
named in `held_completions`. Another trigger notes every completion in
`completions_seen`, with the attempt that made it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import psycopg
import pytest

from capo_worker import queue
from capo_worker.db import make_pool
from capo_worker.handlers import HandlerRegistry, Job, JobContext, JobOutcome
from capo_worker.job_row import Attempt
from capo_worker.worker import Worker
from tests.support.web import settings_for

JOB_TYPE = "test_noop"
WORKER = "background-completions"
HANG_GUARD_SECONDS = 60

HOLD_AND_AUDIT = """
CREATE TABLE held_completions (job_id uuid PRIMARY KEY);
CREATE TABLE completions_seen (job_id uuid NOT NULL, attempt integer NOT NULL,
                               results_attempt integer);
CREATE FUNCTION hold_completion() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'completed' AND OLD.status <> 'completed'
       AND EXISTS (SELECT 1 FROM held_completions WHERE job_id = NEW.id) THEN
        RAISE EXCEPTION 'completion of % held by the test', NEW.id USING ERRCODE = '40001';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER hold_completion BEFORE UPDATE ON background_job_status
    FOR EACH ROW EXECUTE FUNCTION hold_completion();
CREATE FUNCTION see_completion() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'completed' AND OLD.status <> 'completed' THEN
        INSERT INTO completions_seen
        VALUES (NEW.id, NEW.attempts, (NEW.results ->> 'attempt')::int);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER see_completion AFTER UPDATE ON background_job_status
    FOR EACH ROW EXECUTE FUNCTION see_completion();
"""


@pytest.fixture
async def conn(db_url: str) -> AsyncIterator[queue.Conn]:
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        await conn.execute(HOLD_AND_AUDIT)
        yield conn


async def insert_job(
    conn: queue.Conn, *, held: bool, priority: int = 1, payload: str = "{}"
) -> str:
    cur = await conn.execute(
        "INSERT INTO background_job_status (job_type, job_payload, priority) "
        "VALUES (%s, %s, %s) RETURNING id::text",
        (JOB_TYPE, payload, priority),
    )
    row = await cur.fetchone()
    assert row is not None
    if held:
        await conn.execute("INSERT INTO held_completions VALUES (%s)", (row[0],))
    return str(row[0])


async def row_of(conn: queue.Conn, job_id: str) -> dict[str, Any]:
    cur = await conn.execute(
        """SELECT status, attempts, locked_by, lease_expires_at, attempt_errors, results
           FROM background_job_status WHERE id = %s""",
        (job_id,),
    )
    row = await cur.fetchone()
    assert row is not None
    names = ("status", "attempts", "locked_by", "lease_expires_at", "attempt_errors", "results")
    return dict(zip(names, row, strict=True))


async def completions_seen(conn: queue.Conn, job_id: str) -> list[tuple[int, int]]:
    cur = await conn.execute(
        "SELECT attempt, results_attempt FROM completions_seen WHERE job_id = %s", (job_id,)
    )
    return [(int(a), int(r)) for a, r in await cur.fetchall()]


async def eventually(condition: Callable[[], Awaitable[Any]], what: str) -> Any:
    """Poll until `condition` is truthy; the deadline only guards against hanging."""
    deadline = time.monotonic() + HANG_GUARD_SECONDS
    while True:
        value = await condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {HANG_GUARD_SECONDS}s waiting for {what}")
        await asyncio.sleep(0.05)


class Runs:
    """The handler of JOB_TYPE: notes each attempt it ran and succeeds at once,
    or, for a payload with "block", once `unblock` is set."""

    def __init__(self) -> None:
        self.attempts: list[Attempt] = []
        self.unblock = asyncio.Event()

    async def __call__(self, job: Job, ctx: JobContext) -> JobOutcome:
        self.attempts.append(job.attempt)
        if job.job_payload.get("block"):
            await self.unblock.wait()
        return JobOutcome(True, {"ran": True})


@contextlib.asynccontextmanager
async def running_worker(
    db_url: str, runs: Runs, **settings: Any
) -> AsyncIterator[tuple[Worker, asyncio.Event, asyncio.Task[None]]]:
    values = {"worker_id": WORKER, "poll_interval_ms": 100, "worker_concurrency": 1, **settings}
    config = settings_for(db_url, **values)
    registry = HandlerRegistry()
    registry.register(JOB_TYPE, runs)
    pool = make_pool(db_url, max_size=4, lease_seconds=config.job_lease_seconds)
    await pool.open(wait=True)
    worker = Worker(config, pool, db_url, registry)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        yield worker, stop, task
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 60)
        await pool.close()


async def test_the_slot_is_free_while_the_completion_is_written_and_a_lost_attempt_records_nothing(
    db_url: str, conn: queue.Conn
) -> None:
    held = await insert_job(conn, held=True)
    runs = Runs()
    async with running_worker(db_url, runs, job_lease_seconds=30) as (worker, _, _):

        async def pending() -> bool:
            return Attempt(held, 1) in worker.recording

        await eventually(pending, "the held job's completion to be pending")
        assert (await row_of(conn, held))["status"] == "processing"
        # Concurrency 1, and the held job is not recorded yet: its slot is free all the same.
        other = await insert_job(conn, held=False)

        async def other_completed() -> bool:
            return bool((await row_of(conn, other))["status"] == "completed")

        await eventually(other_completed, "another job to run meanwhile")

        # The held attempt loses its lease (as if the worker had been cut off)
        # while its completion is still pending; the job is rescued.
        async with conn.transaction():
            await conn.execute(
                "UPDATE background_job_status SET lease_expires_at = now() - interval '1 second' "
                "WHERE id = %s",
                (held,),
            )
            rescued = await queue.rescue_expired(conn, lease_seconds=30)
        assert [r.id for r in rescued] == [held]

        async def second_attempt_pending() -> bool:
            return Attempt(held, 2) in worker.recording

        await eventually(second_attempt_pending, "the rescued job to run again")
        await conn.execute("DELETE FROM held_completions")

        async def held_completed() -> bool:
            return bool((await row_of(conn, held))["status"] == "completed")

        await eventually(held_completed, "the rescued job to be recorded")
    assert runs.attempts == [Attempt(held, 1), Attempt(other, 1), Attempt(held, 2)]
    # Recorded exactly once, by its current attempt; the lost one left only its error.
    assert await completions_seen(conn, held) == [(2, 2)]
    row = await row_of(conn, held)
    assert (row["attempts"], row["locked_by"], row["lease_expires_at"]) == (2, None, None)
    assert [e["error"] for e in row["attempt_errors"]] == [queue.WORKER_LOST]
    assert row["results"]["ran"] is True and row["results"]["attempt"] == 2
    assert await completions_seen(conn, other) == [(1, 1)]


async def test_the_heartbeat_keeps_the_lease_of_a_job_whose_completion_is_pending(
    db_url: str, conn: queue.Conn
) -> None:
    lease = 5
    held = await insert_job(conn, held=True)
    async with running_worker(db_url, Runs(), job_lease_seconds=lease) as (worker, _, _):

        async def pending() -> bool:
            return Attempt(held, 1) in worker.recording

        await eventually(pending, "the completion to be pending")
        first_expiry: dt.datetime = (await row_of(conn, held))["lease_expires_at"]

        async def first_lease_over() -> bool:
            cur = await conn.execute("SELECT now() > %s + interval '1 second'", (first_expiry,))
            row = await cur.fetchone()
            return bool(row and row[0])

        await eventually(first_lease_over, "the first lease to run out")
        # The completion is still pending, long after the lease it was claimed with.
        assert Attempt(held, 1) in worker.recording
        assert await queue.rescue_expired(conn, lease_seconds=lease) == []
        row = await row_of(conn, held)
        assert (row["status"], row["locked_by"]) == ("processing", WORKER)
        assert row["lease_expires_at"] > first_expiry
        await conn.execute("DELETE FROM held_completions")

        async def completed() -> bool:
            return bool((await row_of(conn, held))["status"] == "completed")

        await eventually(completed, "the completion to be recorded")
    assert await completions_seen(conn, held) == [(1, 1)]
    assert (await row_of(conn, held))["attempt_errors"] == []


async def test_a_graceful_stop_waits_for_the_completions_being_written(
    db_url: str, conn: queue.Conn, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="capo_worker.worker")
    held = await insert_job(conn, held=True)
    async with running_worker(db_url, Runs(), job_lease_seconds=30) as (worker, stop, task):

        async def pending() -> bool:
            return Attempt(held, 1) in worker.recording

        await eventually(pending, "the completion to be pending")
        stop.set()

        async def stopping() -> bool:
            return "Stopping: recording the completions of 1 job(s)" in caplog.text

        await eventually(stopping, "the worker to begin stopping")
        assert not task.done()  # still waiting for the completion
        await conn.execute("DELETE FROM held_completions")
        await asyncio.wait_for(task, 60)
        assert task.exception() is None
    assert await completions_seen(conn, held) == [(1, 1)]
    row = await row_of(conn, held)
    assert (row["status"], row["attempts"], row["locked_by"]) == ("completed", 1, None)
    assert "Released job" not in caplog.text


async def prefetch_behind_a_blocked_job(
    conn: queue.Conn, worker: Worker, runs: Runs
) -> tuple[str, str]:
    """A quick job first (so the worker prefetches), then a blocked job and one prefetched."""
    quick = await insert_job(conn, held=False)

    async def quick_done() -> bool:
        return bool((await row_of(conn, quick))["status"] == "completed")

    await eventually(quick_done, "a quick job to complete")
    async with conn.transaction():  # one claim takes both: the blocked one first (priority)
        blocked = await insert_job(conn, held=False, priority=9, payload='{"block": true}')
        waiting = await insert_job(conn, held=False)

    async def prefetched() -> bool:
        return Attempt(waiting, 1) in worker.prefetched and Attempt(blocked, 1) in worker.running

    await eventually(prefetched, "the second job to be prefetched behind the blocked one")
    row = await row_of(conn, waiting)
    assert (row["status"], row["locked_by"]) == ("processing", WORKER)
    return blocked, waiting


async def test_a_prefetched_job_whose_lease_is_lost_never_runs_that_attempt(
    db_url: str, conn: queue.Conn
) -> None:
    runs = Runs()
    async with running_worker(db_url, runs, job_lease_seconds=5) as (worker, _, _):
        blocked, waiting = await prefetch_behind_a_blocked_job(conn, worker, runs)
        async with conn.transaction():
            await conn.execute(
                "UPDATE background_job_status SET lease_expires_at = now() - interval '1 second' "
                "WHERE id = %s",
                (waiting,),
            )
            rescued = await queue.rescue_expired(conn, lease_seconds=5)
        assert [r.id for r in rescued] == [waiting]

        async def dropped() -> bool:
            return Attempt(waiting, 1) not in worker.prefetched

        await eventually(dropped, "the heartbeat to drop the lost attempt")
        runs.unblock.set()

        async def completed() -> bool:
            return bool((await row_of(conn, waiting))["status"] == "completed")

        await eventually(completed, "the rescued job to run again")
    assert Attempt(waiting, 1) not in runs.attempts
    assert runs.attempts[-2:] == [Attempt(blocked, 1), Attempt(waiting, 2)]
    assert await completions_seen(conn, waiting) == [(2, 2)]


async def test_a_stop_gives_prefetched_jobs_back_untouched(
    db_url: str, conn: queue.Conn, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="capo_worker.worker")
    runs = Runs()
    async with running_worker(db_url, runs, job_lease_seconds=30) as (worker, stop, task):
        blocked, waiting = await prefetch_behind_a_blocked_job(conn, worker, runs)
        stop.set()

        async def released() -> bool:
            return bool((await row_of(conn, waiting))["status"] == "queued")

        await eventually(released, "the prefetched job to be given back")
        runs.unblock.set()  # the running job finishes within the grace period
        await asyncio.wait_for(task, 60)
    row = await row_of(conn, waiting)
    assert (row["attempts"], row["locked_by"], row["attempt_errors"]) == (0, None, [])
    assert Attempt(waiting, 1) not in runs.attempts
    assert (await row_of(conn, blocked))["status"] == "completed"
    assert f"Released job {waiting} back to the queue" in caplog.text


async def test_jobs_whose_leases_cannot_be_renewed_are_stopped_and_prefetched_ones_given_back(
    db_url: str, conn: queue.Conn, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="capo_worker.worker")
    lease = 5
    runs = Runs()
    async with running_worker(db_url, runs, job_lease_seconds=lease) as (worker, _, _):
        blocked, waiting = await prefetch_behind_a_blocked_job(conn, worker, runs)
        # From now on every heartbeat fails (its last statement is refused): the
        # worker cannot confirm its leases, as when the database is away.
        await conn.execute(
            """CREATE FUNCTION refuse_touch() RETURNS trigger LANGUAGE plpgsql AS $$
               BEGIN RAISE EXCEPTION 'heartbeat refused by the test'; END $$;
               CREATE TRIGGER refuse_touch BEFORE UPDATE ON capo_workers
                   FOR EACH ROW EXECUTE FUNCTION refuse_touch();"""
        )

        async def stopped() -> bool:
            return Attempt(blocked, 1) not in worker.running

        await eventually(stopped, "the worker to stop the job it cannot renew")
        runs.unblock.set()  # the job's next attempt runs through

        async def both_completed() -> bool:
            rows = [await row_of(conn, job) for job in (blocked, waiting)]
            return all(r["status"] == "completed" for r in rows)

        await eventually(both_completed, "both jobs to be completed")
    assert f"Could not renew the lease of job {blocked} (attempt 1) in time" in caplog.text
    # The prefetched job was given back unstarted (its attempt not counted), then run once.
    assert f"Released job {waiting} back to the queue" in caplog.text
    assert [a for a in runs.attempts if a.job_id == waiting] == [Attempt(waiting, 1)]
    assert await completions_seen(conn, waiting) == [(1, 1)]
    # The stopped job was rescued when its lease ran out and recorded by its next attempt.
    assert [a for a in runs.attempts if a.job_id == blocked] == [
        Attempt(blocked, 1),
        Attempt(blocked, 2),
    ]
    assert await completions_seen(conn, blocked) == [(2, 2)]
    assert [e["error"] for e in (await row_of(conn, blocked))["attempt_errors"]] == [
        queue.WORKER_LOST
    ]
