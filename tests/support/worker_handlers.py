"""A job type for worker tests: records each run in test_job_runs and sleeps.

Loaded by workers started with JOB_HANDLER_MODULES=tests.support.worker_handlers.
Payload keys: sleep_ms (default 0), sleep_ms_by_worker ({worker_id: ms}),
first_attempt_sleep_ms (used on attempt 1 only), fail (error text).
"""

from __future__ import annotations

import asyncio

from capo_worker.handlers import HandlerRegistry, Job, JobContext, JobOutcome

JOB_TYPE = "test_record"

CREATE_RUNS_TABLE = """
CREATE TABLE IF NOT EXISTS test_job_runs (
    run_id      bigserial PRIMARY KEY,
    job_id      uuid NOT NULL,
    worker_id   text NOT NULL,
    attempt     integer NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at timestamptz
)
"""


async def record(job: Job, ctx: JobContext) -> JobOutcome:
    payload = job.job_payload
    async with ctx.pool.connection() as conn:
        cur = await conn.execute(
            "INSERT INTO test_job_runs (job_id, worker_id, attempt) VALUES (%s, %s, %s) "
            "RETURNING run_id",
            (job.id, ctx.worker_id, job.attempts),
        )
        row = await cur.fetchone()
        assert row is not None
        run_id = row[0]
    sleep_ms = payload.get("sleep_ms_by_worker", {}).get(ctx.worker_id, payload.get("sleep_ms", 0))
    if job.attempts == 1 and "first_attempt_sleep_ms" in payload:
        sleep_ms = payload["first_attempt_sleep_ms"]
    await asyncio.sleep(sleep_ms / 1000)
    async with ctx.pool.connection() as conn:
        await conn.execute(
            "UPDATE test_job_runs SET finished_at = clock_timestamp() WHERE run_id = %s",
            (run_id,),
        )
    if payload.get("fail"):
        return JobOutcome(False, {"run_id": run_id}, error=str(payload["fail"]))
    return JobOutcome(True, {"run_id": run_id})


def register(registry: HandlerRegistry) -> None:
    registry.register(JOB_TYPE, record)
