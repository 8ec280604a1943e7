"""Scenario 13: outcomes that cannot be stored as they are.

The web app's invalidation endpoint answers 500 with a huge JSON error, and
(second test) the database refuses a job's outcome for good (a constraint).
Promise: every remote text stored on the job (error_message, results,
attempt_errors) is cut to a few KB with a note of its size, the worker's
memory stays bounded, and an outcome the database refuses is recorded as a
failure with a short reason; the job never stays in processing and the
worker goes on with the next job.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.acceptance.fault.figures import Figures
from tests.acceptance.fault.harness import (
    environment,
    insert_stats_jobs,
    start_worker,
    stop_all,
    stranded,
    wait_started,
)
from tests.support.db import execute, query, scalar
from tests.support.leagues import load_fixture
from tests.support.processes import Process, free_port
from tests.support.waiting import wait_for
from tests.support.webapp import StandInWebApp
from tests.support.worker_handlers import CREATE_RUNS_TABLE, JOB_TYPE

KEY = "huge-outcome-key"
STORED_TEXT_LIMIT = 8192  # what one stored text may take, its note included


@dataclass(frozen=True)
class Plan:
    run: str
    error_bytes: int


PLANS = [
    pytest.param(Plan("quick", 4_000_000), id="quick"),
    pytest.param(Plan("long", 90_000_000), id="long", marks=pytest.mark.slow),
]


def peak_rss_mb(proc: Process) -> float:
    for line in Path(f"/proc/{proc.popen.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def _ended(db_url: str, job_id: str) -> Callable[[], bool]:
    return lambda: scalar(
        db_url,
        "SELECT status IN ('completed', 'failed') FROM background_job_status WHERE id = %s",
        job_id,
    )


@pytest.mark.parametrize("plan", PLANS)
def test_a_huge_webhook_error_is_stored_cut_to_a_few_kb(
    db_url: str,
    start: Callable[..., Process],
    record_figures: Callable[[Figures], Path],
    plan: Plan,
) -> None:
    load_fixture(db_url, "tiny")
    env = environment(db_url)
    app = StandInWebApp(KEY, free_port(), error_bytes=plan.error_bytes)
    app.up()
    try:
        worker = start_worker(
            start,
            db_url,
            "w1",
            CACHE_INVALIDATION_URL=app.url,
            INTERNAL_API_KEY=KEY,
            RETRY_BACKOFF_SECONDS="0.5",
        )
        wait_started(worker, "w1")
        (job_id,) = insert_stats_jobs(db_url, 1, max_attempts=2)
        wait_for(_ended(db_url, job_id), 120, "the job to end")
        peak = peak_rss_mb(worker)
        # The worker goes on: the next job runs (and fails the same way) too.
        (second,) = insert_stats_jobs(db_url, 1, max_attempts=1)
        wait_for(_ended(db_url, second), 120, "the next job to end")
        assert stop_all([worker]) == [0]
    finally:
        app.down()

    status, attempts, error, results, errors, sizes = query(
        db_url,
        """SELECT status, attempts, error_message, results, attempt_errors,
                  ARRAY[octet_length(error_message), octet_length(results::text),
                        octet_length(attempt_errors::text)]
           FROM background_job_status WHERE id = %s""",
        job_id,
    )[0]
    assert (status, attempts) == ("failed", 2)
    assert results["successful_functions"] == 10  # the stats were computed and kept
    body_bytes = len(json.dumps({"success": False, "error": ""})) + plan.error_bytes
    assert error.startswith("Cache invalidation failed: HTTP 500: "), error[:200]
    assert f"{body_bytes:,} bytes" in error, error[:400]  # the note of the original size
    assert sizes[0] <= STORED_TEXT_LIMIT, sizes
    cache = results["cache_invalidation"]
    assert len(cache["error"]) <= STORED_TEXT_LIMIT
    assert all(len(a["error"]) <= STORED_TEXT_LIMIT for a in cache["attempts"])
    assert sizes[1] <= 8 * STORED_TEXT_LIMIT and sizes[2] <= 4 * STORED_TEXT_LIMIT, sizes
    assert [e["attempt"] for e in errors] == [1, 2]
    assert stranded(db_url) == 0
    record_figures(
        Figures(
            scenario="huge-outcome",
            run=plan.run,
            load="2 stats jobs, one worker",
            faults=f"the web app answers 500 with a {plan.error_bytes / 1e6:g} MB JSON error",
            jobs_in=2,
            jobs_completed=0,
            lost=0,
            duplicated_at_once=None,
            stranded=stranded(db_url),
            recovery="n/a (each job failed with its reason, attempts spent)",
            details={
                "error_message stored": f"{sizes[0]:,} bytes",
                "results stored": f"{sizes[1]:,} bytes",
                "attempt_errors stored": f"{sizes[2]:,} bytes",
                "worker's peak memory (VmHWM)": f"{peak:.0f} MB",
                "job end state": f"{status} after {attempts} attempts, stats kept",
            },
            environment=env,
        )
    )


def test_an_outcome_the_database_refuses_is_recorded_as_a_failure(
    db_url: str, start: Callable[..., Process]
) -> None:
    execute(db_url, CREATE_RUNS_TABLE)
    # Any completion of a 'poison' job breaks a constraint: a permanent error, not an outage.
    execute(
        db_url,
        """ALTER TABLE background_job_status ADD CONSTRAINT fault_no_poison_completed
           CHECK (status <> 'completed' OR NOT job_payload ? 'poison')""",
    )
    worker = start_worker(start, db_url, "w1", JOB_HANDLER_MODULES="tests.support.worker_handlers")
    wait_started(worker, "w1")
    poison = str(
        scalar(
            db_url,
            "INSERT INTO background_job_status (job_type, job_payload, max_attempts) "
            "VALUES (%s, %s, 2) RETURNING id",
            JOB_TYPE,
            json.dumps({"poison": True}),
        )
    )
    wait_for(_ended(db_url, poison), 60, "the refused job to end")
    fine = str(
        scalar(
            db_url,
            "INSERT INTO background_job_status (job_type, job_payload) VALUES (%s, '{}') "
            "RETURNING id",
            JOB_TYPE,
        )
    )
    wait_for(_ended(db_url, fine), 60, "the next job to end")
    assert stop_all([worker]) == [0]
    status, attempts, error, errors = query(
        db_url,
        "SELECT status, attempts, error_message, attempt_errors FROM background_job_status "
        "WHERE id = %s",
        poison,
    )[0]
    assert (status, attempts) == ("failed", 2)
    assert error.startswith("Could not record the outcome: ")
    assert "fault_no_poison_completed" in error and len(error) < 1000
    assert [e["attempt"] for e in errors] == [1, 2]
    assert scalar(db_url, "SELECT status FROM background_job_status WHERE id = %s", fine) == (
        "completed"
    )
    assert stranded(db_url) == 0
