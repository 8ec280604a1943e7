"""CompletionBatcher: many completions per statement, one refused outcome fails only its job."""

from __future__ import annotations

import asyncio
import uuid

import psycopg
import pytest

from capo_worker import queue
from capo_worker.completions import CompletionBatcher
from capo_worker.constants import STATS_JOB_TYPE
from capo_worker.db import make_pool
from capo_worker.db_errors import is_permanent

WORKER = "batcher-worker"


async def test_an_outcome_refused_for_good_fails_only_its_own_job(db_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        await conn.execute(
            """ALTER TABLE background_job_status ADD CONSTRAINT no_poison_completed
               CHECK (status <> 'completed' OR NOT job_payload ? 'poison')"""
        )
        for body in ({"poison": True}, {}, {}):
            await queue.enqueue(conn, payload=body, request_id=str(uuid.uuid4()), coalesce=False)
        jobs = await queue.claim(
            conn, worker_id=WORKER, job_types=[STATS_JOB_TYPE], lease_seconds=60, limit=3
        )
    poison = next(j for j in jobs if "poison" in j.job_payload)
    pool = make_pool(db_url, max_size=2)
    await pool.open()
    try:
        batcher = CompletionBatcher(pool, WORKER)
        outcomes = await asyncio.gather(
            *(batcher.complete(j.attempt, {"n": i}) for i, j in enumerate(jobs)),
            return_exceptions=True,
        )
    finally:
        await pool.close()
    by_job = {j.id: o for j, o in zip(jobs, outcomes, strict=True)}
    refused = by_job.pop(poison.id)
    assert isinstance(refused, psycopg.errors.CheckViolation) and is_permanent(refused)
    assert list(by_job.values()) == [True, True]


@pytest.mark.parametrize(
    ("error", "permanent"),
    [
        (psycopg.errors.CheckViolation(), True),
        (psycopg.errors.ProgramLimitExceeded(), True),
        (psycopg.errors.InvalidTextRepresentation(), True),
        (psycopg.errors.AdminShutdown(), False),
        (psycopg.errors.DeadlockDetected(), False),
        (psycopg.errors.LockNotAvailable(), False),
        (psycopg.OperationalError("connection lost"), False),
        (OSError("reset"), False),
    ],
)
def test_permanent_errors_are_told_from_passing_ones(error: Exception, permanent: bool) -> None:
    assert is_permanent(error) is permanent
