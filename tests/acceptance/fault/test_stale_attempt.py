"""Scenario 12: a worker re-claims its own rescued job while the lost attempt still runs.

A worker runs a long job. Its lease is taken away while the job is still
running (as when its heartbeats were late: the test expires the lease in the
database and runs the rescue another worker would run), and the same worker
claims the job again in a free slot, so two attempts of one job run side by
side in one process. Promise: only the current attempt records an outcome;
the lost attempt is stopped by the next heartbeat (or, finishing first, is
refused at completion), the current attempt keeps its lease to the end, and
the job is completed with the current attempt's results.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from capo_worker import queue
from tests.acceptance.fault.figures import Figures
from tests.acceptance.fault.harness import (
    environment,
    start_worker,
    stop_all,
    stranded,
    wait_started,
)
from tests.support.db import execute, query, scalar
from tests.support.processes import Process
from tests.support.waiting import wait_for
from tests.support.worker_handlers import CREATE_RUNS_TABLE, JOB_TYPE

LEASE_SECONDS = 5


@dataclass(frozen=True)
class Plan:
    run: str
    jobs: int  # handled one after another, each re-claimed once


PLANS = [
    pytest.param(Plan("quick", 1), id="quick"),
    pytest.param(Plan("long", 6), id="long", marks=pytest.mark.slow),
]

# Attempt 1 sleeps longer than attempt 2 has been running when attempt 1 ends,
# so the stale attempt finishes first, while the current one still holds the job.
PAYLOAD = {"first_attempt_sleep_ms": 4000, "sleep_ms": 6000}


def _rescue(db_url: str) -> list[queue.RescuedJob]:
    async def run() -> list[queue.RescuedJob]:
        async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
            return await queue.rescue_expired(conn, lease_seconds=LEASE_SECONDS)

    return asyncio.run(run())


def _runs(db_url: str, job_id: str, attempt: int) -> Callable[[], bool]:
    """Has attempt `attempt` of the job started?"""
    return lambda: bool(
        scalar(
            db_url,
            "SELECT count(*) FROM test_job_runs WHERE job_id = %s AND attempt = %s",
            job_id,
            attempt,
        )
    )


def _completed(db_url: str, job_id: str) -> Callable[[], bool]:
    return lambda: bool(
        scalar(
            db_url, "SELECT status = 'completed' FROM background_job_status WHERE id = %s", job_id
        )
    )


@pytest.mark.parametrize("plan", PLANS)
def test_a_lost_attempt_never_records_an_outcome(
    db_url: str,
    start: Callable[..., Process],
    record_figures: Callable[[Figures], Path],
    plan: Plan,
) -> None:
    execute(db_url, CREATE_RUNS_TABLE)
    env = environment(db_url)
    worker = start_worker(
        start,
        db_url,
        "w1",
        JOB_HANDLER_MODULES="tests.support.worker_handlers",
        WORKER_CONCURRENCY="2",
    )
    wait_started(worker, "w1")
    for n in range(plan.jobs):
        job_id = str(
            scalar(
                db_url,
                "INSERT INTO background_job_status (job_type, job_payload) VALUES (%s, %s) "
                "RETURNING id",
                JOB_TYPE,
                json.dumps(PAYLOAD),
            )
        )
        wait_for(_runs(db_url, job_id, 1), 30, "attempt 1 to start")
        # Attempt 1's lease is taken away while it runs; another worker's rescue requeues it.
        execute(
            db_url,
            "UPDATE background_job_status SET lease_expires_at = now() - interval '1 second' "
            "WHERE id = %s",
            job_id,
        )
        assert [r.id for r in _rescue(db_url)] == [job_id]
        wait_for(_runs(db_url, job_id, 2), 30, "the worker to claim the job again")
        wait_for(_completed(db_url, job_id), 60, f"job {n + 1} to complete")
        runs = dict(
            query(
                db_url,
                "SELECT attempt, run_id FROM test_job_runs WHERE job_id = %s AND "
                "finished_at IS NOT NULL",
                job_id,
            )
        )
        assert 2 in runs, "attempt 2 ran to its end"
        status, attempts, results, errors = query(
            db_url,
            "SELECT status, attempts, results, attempt_errors FROM background_job_status "
            "WHERE id = %s",
            job_id,
        )[0]
        # The recorded outcome is attempt 2's, not the stale attempt 1's (which ended first).
        assert (status, attempts) == ("completed", 2)
        assert (results["attempt"], results["run_id"]) == (2, runs[2]), results
        # Attempt 2 kept its lease to the end: the only lost attempt is the first.
        assert [(e["attempt"], e["error"]) for e in errors] == [(1, "worker lost")], errors

    assert stop_all([worker]) == [0]
    assert stranded(db_url) == 0
    # Each stale attempt was stopped when the heartbeat found its lease gone, or, had it
    # finished first, told at completion that the job is no longer its own.
    stopped = worker.output.count("Lost the lease of job")
    fenced = worker.output.count("is no longer ours")
    assert stopped + fenced >= plan.jobs
    record_figures(
        Figures(
            scenario="stale-attempt",
            run=plan.run,
            load=f"{plan.jobs} job(s) of {PAYLOAD['first_attempt_sleep_ms'] / 1000:g} s "
            "(attempt 1), one worker with 2 slots",
            faults=f"{plan.jobs} x lease taken away mid-job, then re-claimed by the same worker",
            jobs_in=plan.jobs,
            jobs_completed=plan.jobs,
            lost=0,
            duplicated_at_once=None,
            stranded=stranded(db_url),
            recovery="n/a (the job never stopped)",
            details={
                "outcomes recorded by the stale attempt": 0,
                "outcomes recorded by the current attempt": plan.jobs,
                "stale attempts stopped by the heartbeat (lease gone)": stopped,
                "stale attempts refused at completion": fenced,
                "current attempts that lost their lease": 0,
                "lease": f"{LEASE_SECONDS} s",
            },
            environment=env,
        )
    )
