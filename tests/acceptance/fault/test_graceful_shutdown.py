"""Scenario 5: SIGTERM while workers are busy with a backlog.

Promise: a worker told to stop claims nothing more, lets its running jobs
finish within SHUTDOWN_GRACE_SECONDS and gives the others back to the queue
(queued, the interrupted attempt not counted, no "worker lost"); nothing is
left in processing, and the released jobs run to completion on another worker.
"""

from __future__ import annotations

import random
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.acceptance.fault.figures import Figures
from tests.acceptance.fault.harness import (
    SLOW_FUNCTION,
    all_completed,
    environment,
    insert_stats_jobs,
    instrument_stats,
    overlapping_attempts,
    seconds,
    start_worker,
    status_counts,
    stop_all,
    stranded,
    wait_started,
)
from tests.support.db import execute, query, scalar
from tests.support.leagues import load_fixture
from tests.support.processes import Process
from tests.support.waiting import wait_for

GRACE_SECONDS = 4.0
SETTINGS = {
    "WORKER_CONCURRENCY": "2",
    "STATS_PARALLELISM": "2",
    "SHUTDOWN_GRACE_SECONDS": f"{GRACE_SECONDS:g}",
}


def worker_lost_entries(db_url: str) -> int:
    return int(
        scalar(
            db_url,
            """SELECT count(*) FROM background_job_status, jsonb_array_elements(attempt_errors) e
               WHERE e ->> 'error' = 'worker lost'""",
        )
    )


def sigterm(procs: list[Process]) -> list[float]:
    """SIGTERM all at once; seconds each took to exit (a hang guard, not a speed assertion)."""
    sent = time.monotonic()
    for proc in procs:
        proc.signal(signal.SIGTERM)
    took = []
    for proc in procs:
        assert proc.wait(GRACE_SECONDS + 60) == 0, proc.output[-3000:]
        took.append(time.monotonic() - sent)
    return took


def test_sigterm_finishes_or_releases_every_running_job(
    db_url: str, start: Callable[..., Process], record_figures: Callable[[Figures], Path]
) -> None:
    load_fixture(db_url, "tiny")
    instrument_stats(db_url, {SLOW_FUNCTION: 1500})  # a job lasts about 1.5 s
    env = environment(db_url)
    long_jobs = insert_stats_jobs(db_url, 2, extra={"faultDelayMs": 120_000})  # outlast the grace
    short_jobs = insert_stats_jobs(db_url, 30)
    everything = long_jobs + short_jobs
    workers = [start_worker(start, db_url, f"leaving-{i}", **SETTINGS) for i in range(2)]

    def busy() -> bool:
        counts = status_counts(db_url, long_jobs)
        return counts["processing"] == 2 and status_counts(db_url)["processing"] == 4

    wait_for(busy, 60, "both long jobs and two short ones to run")
    time.sleep(0.5)
    running = {
        job_id: holder
        for job_id, holder in query(
            db_url,
            "SELECT id::text, locked_by FROM background_job_status WHERE status = 'processing'",
        )
    }
    sigterm_at = scalar(db_url, "SELECT clock_timestamp()")
    stop_times = sigterm(workers)

    # Nothing held: each job that ran at SIGTERM is completed or back in the queue.
    assert stranded(db_url) == 0
    outcome = dict(
        query(
            db_url,
            "SELECT id::text, status FROM background_job_status WHERE id = ANY(%s::uuid[])",
            list(running),
        )
    )
    assert set(outcome.values()) <= {"completed", "queued"}, outcome
    assert all(outcome[j] == "queued" for j in long_jobs)
    finished_in_grace = int(
        scalar(
            db_url,
            "SELECT count(*) FROM background_job_status WHERE completed_at > %s",
            sigterm_at,
        )
    )
    assert finished_in_grace >= 1, "no running job finished during the grace period"
    released = query(
        db_url,
        """SELECT attempts, locked_by, started_at, jsonb_array_length(attempt_errors)
           FROM background_job_status WHERE id = ANY(%s::uuid[])""",
        long_jobs,
    )
    assert released == [(0, None, None, 0), (0, None, None, 0)]  # the attempt is not counted
    assert sum(w.output.count("Released job") for w in workers) == 2
    claimed_after = int(
        scalar(
            db_url, "SELECT count(*) FROM background_job_status WHERE started_at > %s", sigterm_at
        )
    )
    assert claimed_after == 0, "a stopping worker claimed a job"

    # The released jobs and the rest of the backlog run to completion elsewhere
    # (without the delays this time).
    execute(
        db_url,
        "UPDATE background_job_status SET job_payload = job_payload - 'faultDelayMs' "
        "WHERE id = ANY(%s::uuid[])",
        long_jobs,
    )
    execute(db_url, "UPDATE fault_delays SET delay_ms = 0")
    successor = start_worker(start, db_url, "successor", **SETTINGS)
    wait_for(all_completed(db_url, everything), 120, "the backlog to complete")
    assert stop_all([successor]) == [0]
    assert worker_lost_entries(db_url) == 0  # every stop was graceful: nothing waited for a lease
    overlaps = overlapping_attempts(db_url)
    assert overlaps == []
    counts = status_counts(db_url, everything)

    record_figures(
        Figures(
            scenario="graceful-shutdown",
            run="quick",
            load=f"{len(everything)} stats jobs (2 of them 120 s long), 2 workers x 2 slots",
            faults=f"SIGTERM to both workers with 4 jobs running (grace {GRACE_SECONDS:g} s)",
            jobs_in=len(everything),
            jobs_completed=counts["completed"],
            lost=len(everything) - counts["completed"],
            duplicated_at_once=len(overlaps),
            stranded=stranded(db_url),
            recovery=f"{max(stop_times):.1f} s max (SIGTERM to exit)",
            details={
                "jobs running at SIGTERM": len(running),
                "finished during the grace period": finished_in_grace,
                "released to the queue (attempt not counted)": len(long_jobs),
                "claimed after SIGTERM": claimed_after,
                "SIGTERM to exit": seconds(stop_times),
                "rescued as worker lost": worker_lost_entries(db_url),
            },
            environment=env,
        )
    )


@pytest.mark.slow
def test_rolling_sigterms_under_load_lose_nothing(
    db_url: str, start: Callable[..., Process], record_figures: Callable[[Figures], Path]
) -> None:
    """A worker stopped every few seconds (a rolling deploy that never ends), for minutes."""
    load_fixture(db_url, "tiny")
    instrument_stats(db_url, {SLOW_FUNCTION: 0})
    env = environment(db_url)
    rng = random.Random(5)
    job_ids: list[str] = []
    for _ in range(150):  # 0.2 to 8 s each; the long ones outlast the grace period
        job_ids += insert_stats_jobs(db_url, 1, extra={"faultDelayMs": rng.randint(200, 8000)})
    settings = {**SETTINGS, "SHUTDOWN_GRACE_SECONDS": "3"}
    alive: dict[str, Process] = {}
    everyone: list[Process] = []

    def replace() -> None:
        worker_id = f"w{len(everyone) + 1}"
        proc = start_worker(start, db_url, worker_id, **settings)
        wait_started(proc, worker_id)
        alive[worker_id] = proc
        everyone.append(proc)

    for _ in range(3):
        replace()
    done = all_completed(db_url, job_ids)
    stop_times: list[float] = []
    stops = 0
    deadline = time.monotonic() + 1200
    while not done():
        assert time.monotonic() < deadline, status_counts(db_url, job_ids)
        pause_until = time.monotonic() + rng.uniform(3.0, 5.0)
        while time.monotonic() < pause_until and not done():
            time.sleep(0.1)
        if done():
            break
        victim_id = rng.choice(sorted(alive))
        victim = alive.pop(victim_id)
        replace()  # the replacement first, as a rolling deploy does
        stop_times += sigterm([victim])
        stops += 1
        held = scalar(
            db_url, "SELECT count(*) FROM background_job_status WHERE locked_by = %s", victim_id
        )
        assert held == 0, f"{victim_id} exited still holding {held} job(s)"
    assert stop_all(alive.values()) == [0] * len(alive)

    counts = status_counts(db_url, job_ids)
    assert counts["completed"] == len(job_ids)
    assert stranded(db_url) == 0
    assert worker_lost_entries(db_url) == 0
    overlaps = overlapping_attempts(db_url)
    assert overlaps == []
    released = sum(p.output.count("Released job") for p in everyone)
    record_figures(
        Figures(
            scenario="graceful-shutdown",
            run="long",
            load=f"{len(job_ids)} stats jobs of 0.2-8 s, 3 workers x 2 slots",
            faults=f"{stops} x SIGTERM, one every 3-5 s, replacement started first (grace 3 s)",
            jobs_in=len(job_ids),
            jobs_completed=counts["completed"],
            lost=len(job_ids) - counts["completed"],
            duplicated_at_once=len(overlaps),
            stranded=stranded(db_url),
            recovery=f"{max(stop_times):.1f} s max (SIGTERM to exit)",
            details={
                "SIGTERM to exit": seconds(stop_times),
                "jobs released at a stop (claimed again later)": released,
                "rescued as worker lost": worker_lost_entries(db_url),
                "workers started": len(everyone),
            },
            environment=env,
        )
    )
