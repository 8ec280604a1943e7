"""Scenario 4: the web app (its cache-invalidation endpoint) refuses connections for a while.

Promise: while the app is down, stats jobs end failed with that reason (after
the webhook's own retries and the job's attempts); once it is back, a retry
(by hand through the API, or the job's next automatic attempt) delivers the
invalidation without computing the stats again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.acceptance.fault.figures import Figures
from tests.acceptance.fault.harness import (
    environment,
    function_runs_per_job,
    insert_stats_jobs,
    instrument_stats,
    overlapping_attempts,
    seconds,
    start_server,
    status_counts,
    stranded,
)
from tests.support.db import query
from tests.support.leagues import load_fixture
from tests.support.processes import Process, free_port
from tests.support.waiting import wait_for
from tests.support.webapp import StandInWebApp

KEY = "internal-key-for-the-fault-tests"
FAILED_WHILE_DOWN = 4


def job_rows(
    db_url: str, job_ids: list[str]
) -> list[tuple[str, str, int, str | None, dict[str, Any]]]:
    rows = query(
        db_url,
        """SELECT id::text, status, attempts, error_message, results
           FROM background_job_status WHERE id = ANY(%s::uuid[]) ORDER BY created_at""",
        job_ids,
    )
    return [(str(r[0]), str(r[1]), int(r[2]), r[3], r[4]) for r in rows]


def test_invalidation_is_delivered_by_retries_without_recomputing(
    db_url: str, start: Callable[..., Process], record_figures: Callable[[Figures], Path]
) -> None:
    load_fixture(db_url, "tiny")
    instrument_stats(db_url)  # counts every stats function call
    env = environment(db_url)
    app = StandInWebApp(KEY, free_port())  # down: nothing listens on its port
    _, url = start_server(
        start,
        db_url,
        "run",
        CACHE_INVALIDATION_URL=app.url,
        INTERNAL_API_KEY=KEY,
        RETRY_BACKOFF_SECONDS="1",
        WORKER_CONCURRENCY="2",
    )
    down_since = time.monotonic()

    # 1. The app is down: every job ends failed, with the reason.
    failing = insert_stats_jobs(db_url, FAILED_WHILE_DOWN, max_attempts=2)
    wait_for(lambda: status_counts(db_url, failing)["failed"] == len(failing), 120, "failures")
    reason = f"Cache invalidation failed: cannot connect to {app.url}"
    example = str(job_rows(db_url, failing)[0][3])
    for _, status, attempts, error, results in job_rows(db_url, failing):
        assert (status, attempts) == ("failed", 2)
        assert error is not None and error.startswith(reason), error
        assert results["stats_attempt"] == 1 and results["stats_reused"] is True
        assert results["successful_functions"] == 10
        calls = results["cache_invalidation"]["attempts"]
        assert len(calls) == 3 and all(c["status_code"] is None for c in calls)
    assert function_runs_per_job(db_url) == dict.fromkeys(failing, 10)  # computed once each

    # 2. The app is back: a retry through the API delivers the invalidation only.
    app.up()
    down_for = time.monotonic() - down_since
    back_at = time.monotonic()
    for job_id in failing:
        response = httpx.post(f"{url}/api/admin/background-jobs/{job_id}/retry", timeout=10)
        assert response.status_code == 200, response.text
    wait_for(lambda: status_counts(db_url, failing)["completed"] == len(failing), 60, "retries")
    retried_in = time.monotonic() - back_at
    for _, _, attempts, error, results in job_rows(db_url, failing):
        assert attempts == 3 and error is None
        assert results["stats_reused"] is True and results["stats_attempt"] == 1
        assert results["cache_invalidation_success"] is True
    delivered = {i.request_id for i in app.received if i.authorized and i.tags}
    assert len(delivered) == len(failing)

    # 3. Down again for one job's first attempt; its automatic retry delivers once it is back.
    app.down()
    [automatic] = insert_stats_jobs(db_url, 1, max_attempts=5)
    wait_for(
        lambda: job_rows(db_url, [automatic])[0][3] is not None, 60, "the first attempt to fail"
    )
    app.up()
    wait_for(lambda: status_counts(db_url, [automatic])["completed"] == 1, 60, "the retry")
    [(_, _, attempts, _, results)] = job_rows(db_url, [automatic])
    assert attempts >= 2 and results["stats_reused"] is True and results["stats_attempt"] == 1
    app.down()

    everything = [*failing, automatic]
    runs = function_runs_per_job(db_url)
    assert runs == dict.fromkeys(everything, 10), "stats computed again on a retry"
    counts = status_counts(db_url, everything)
    overlaps = overlapping_attempts(db_url)
    assert overlaps == []
    record_figures(
        Figures(
            scenario="webapp-down",
            run="quick",
            load=f"{len(everything)} stats jobs, 1 `capo-worker run`",
            faults=f"invalidation endpoint refusing connections ({down_for:.0f} s, then again "
            "for one job's first attempt)",
            jobs_in=len(everything),
            jobs_completed=counts["completed"],
            lost=len(everything) - counts["completed"],
            duplicated_at_once=len(overlaps),
            stranded=stranded(db_url),
            recovery=f"{retried_in:.1f} s (app back to every retried job completed)",
            details={
                "jobs failed while the app was down (MAX_ATTEMPTS 2)": len(failing),
                "their error": example.replace(str(app.port), "PORT"),
                "webhook requests per failed attempt": 3,
                "completed by a retry through the API": len(failing),
                "completed by an automatic retry": 1,
                "stats computations per job": "1 (10 committed function calls each, "
                "whatever the number of attempts)",
                "app back to retried jobs completed": seconds([retried_in]),
            },
            environment=env,
        )
    )
