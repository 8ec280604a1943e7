"""Scenario 1: workers killed with SIGKILL while they hold jobs.

Three workers share a backlog of stats jobs whose stats functions are slowed
(so each worker always holds jobs when it dies). Every few seconds a random
worker is killed with SIGKILL and a replacement is started. Promise: every
job ends completed, no job is ever run by two workers at the same time, none
is left in processing, and each job a dead worker held comes back once its
lease expires (recorded as "worker lost").
"""

from __future__ import annotations

import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
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
from tests.support.db import query
from tests.support.leagues import load_fixture
from tests.support.processes import Process
from tests.support.waiting import wait_for

LEASE_SECONDS = 5
WORKERS = 3


@dataclass(frozen=True)
class Plan:
    run: str
    jobs: int
    delay_ms: int  # added to one stats function of every job
    kill_every: tuple[float, float]  # seconds between kills, drawn uniformly
    timeout: float  # deadline for the whole backlog (a hang guard)


PLANS = [
    pytest.param(Plan("quick", 60, 1500, (2.0, 4.0), 240), id="quick"),
    pytest.param(Plan("long", 300, 1000, (2.0, 4.0), 1200), id="long", marks=pytest.mark.slow),
]

WORKER_SETTINGS = {
    "JOB_LEASE_SECONDS": str(LEASE_SECONDS),
    "WORKER_CONCURRENCY": "2",
    "STATS_PARALLELISM": "2",
}

# Each attempt a kill interrupted: when it was claimed, when the worker died,
# when its lease expired (from the rescue's attempt_errors entry) and when the
# next attempt claimed the job (a later killed attempt, or the final one).
_RESCUES = """
WITH claims AS (
    SELECT job_id, attempt, started_at FROM fault_killed_attempts
    UNION ALL
    SELECT id, attempts, started_at FROM background_job_status WHERE status = 'completed'
), lost AS (
    SELECT k.job_id, k.attempt, k.killed_at,
           (e ->> 'lease_expired_at')::timestamptz AS expired_at,
           (e ->> 'at')::timestamptz AS rescued_at
    FROM fault_killed_attempts k
    JOIN background_job_status j ON j.id = k.job_id
    CROSS JOIN LATERAL jsonb_array_elements(j.attempt_errors) e
    WHERE (e ->> 'attempt')::int = k.attempt AND e ->> 'error' = 'worker lost'
)
SELECT extract(epoch FROM c.started_at - l.killed_at)::float8,
       extract(epoch FROM c.started_at - l.expired_at)::float8,
       extract(epoch FROM l.rescued_at - l.expired_at)::float8,
       extract(epoch FROM c.started_at - l.rescued_at)::float8
FROM lost l JOIN claims c ON c.job_id = l.job_id AND c.attempt = l.attempt + 1
"""


def kill(victim: Process, worker_id: str, db_url: str) -> int:
    """SIGKILL a worker; record the attempts it held (frozen from now on). Returns how many."""
    victim.signal(signal.SIGKILL)
    victim.wait(30)
    rows = query(
        db_url,
        """INSERT INTO fault_killed_attempts (job_id, worker, attempt, started_at, killed_at)
           SELECT id, locked_by, attempts, started_at, clock_timestamp()
           FROM background_job_status WHERE locked_by = %s AND status = 'processing'
           RETURNING job_id""",
        worker_id,
    )
    return len(rows)


@pytest.mark.parametrize("plan", PLANS)
def test_killed_workers_lose_no_job_and_never_run_one_twice_at_once(
    db_url: str,
    start: Callable[..., Process],
    record_figures: Callable[[Figures], Path],
    plan: Plan,
) -> None:
    load_fixture(db_url, "tiny")
    instrument_stats(db_url, {SLOW_FUNCTION: plan.delay_ms})
    env = environment(db_url)
    # Attempts are not what this scenario is about: a job may be hit more than once.
    job_ids = insert_stats_jobs(db_url, plan.jobs, max_attempts=20)
    rng = random.Random(6)
    alive: dict[str, Process] = {}
    started = 0

    def replace() -> None:
        nonlocal started
        started += 1
        worker_id = f"w{started}"
        alive[worker_id] = start_worker(start, db_url, worker_id, **WORKER_SETTINGS)

    for _ in range(WORKERS):
        replace()
    done = all_completed(db_url, job_ids)
    wait_for(lambda: status_counts(db_url, job_ids)["processing"] > 0, 60, "the first claims")

    kills = killed_attempts = 0
    deadline = time.monotonic() + plan.timeout
    while not done():
        assert time.monotonic() < deadline, f"backlog not done: {status_counts(db_url, job_ids)}"
        pause_until = time.monotonic() + rng.uniform(*plan.kill_every)
        while time.monotonic() < pause_until and not done():
            time.sleep(0.1)
        if done():
            break
        victim_id = rng.choice(sorted(alive))
        killed_attempts += kill(alive.pop(victim_id), victim_id, db_url)
        kills += 1
        replace()

    for worker_id, proc in alive.items():  # a replacement may still be starting
        wait_started(proc, worker_id)
    exit_codes = stop_all(alive.values())
    assert exit_codes == [0] * len(alive)

    counts = status_counts(db_url, job_ids)
    assert counts["completed"] == plan.jobs, counts
    assert stranded(db_url) == 0
    overlaps = overlapping_attempts(db_url)
    assert overlaps == [], f"attempts of one job ran at the same time: {overlaps[:5]}"
    assert kills >= 3 and killed_attempts >= 1, "the run ended before the faults bit"

    # Every attempt a kill interrupted was rescued once, as "worker lost", and claimed again.
    rescues = query(db_url, _RESCUES)
    assert len(rescues) == killed_attempts
    lost_entries = query(
        db_url,
        """SELECT count(*) FROM background_job_status, jsonb_array_elements(attempt_errors) e
           WHERE e ->> 'error' = 'worker lost' AND e ? 'lease_expired_at'""",
    )[0][0]
    assert lost_entries == killed_attempts

    # Each job was completed by the worker of its last attempt, which ran all ten functions.
    incomplete = query(
        db_url,
        """SELECT j.id FROM background_job_status j
           WHERE (SELECT count(DISTINCT r.function) FROM fault_function_runs r
                  WHERE r.job_id = j.id AND r.attempt = j.attempts
                    AND r.worker = j.results ->> 'worker_id') <> 10""",
    )
    assert incomplete == []
    attempts = dict(
        query(db_url, "SELECT attempts, count(*) FROM background_job_status GROUP BY 1")
    )

    record_figures(
        Figures(
            scenario="worker-killed",
            run=plan.run,
            load=f"{plan.jobs} stats jobs, {WORKERS} workers x 2 slots, "
            f"+{plan.delay_ms / 1000:g} s per job",
            faults=f"{kills} x SIGKILL (every {plan.kill_every[0]:g}-{plan.kill_every[1]:g} s)",
            jobs_in=plan.jobs,
            jobs_completed=counts["completed"],
            lost=plan.jobs - counts["completed"],
            duplicated_at_once=len(overlaps),
            stranded=stranded(db_url),
            recovery=f"{max(r[0] for r in rescues):.1f} s max (kill to re-claim)",
            details={
                "attempts held by killed workers (all rescued)": killed_attempts,
                "kill to re-claim": seconds(r[0] for r in rescues),
                "lease expiry to re-claim (rescue time)": seconds(r[1] for r in rescues),
                "of which lease expiry to rescue": seconds(r[2] for r in rescues),
                "of which rescue to re-claim (waiting for a free slot)": seconds(
                    r[3] for r in rescues
                ),
                "lease": f"{LEASE_SECONDS} s (JOB_LEASE_SECONDS); rescue runs every "
                f"{LEASE_SECONDS / 4:g} s in every worker",
                "jobs by attempts": ", ".join(
                    f"{n} in {a} attempt{'s' if a > 1 else ''}" for a, n in sorted(attempts.items())
                ),
                "workers started": started,
            },
            environment=env,
        )
    )
