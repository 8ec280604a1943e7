"""Scenarios 10 and 11: a worker frozen (SIGSTOP) or cut off (a proxy that stops
forwarding) while its stats transaction holds locks.

A worker runs a stats job whose slowed function is in progress when the
worker is frozen, or when the network between it and the database stops
carrying anything. The function finishes on the server and its transaction
stays open, holding the function's lock, because the COMMIT never comes.
A second worker rescues the job once the lease expires. Promise: the second
worker completes the job on its first try (the lost attempt's sessions are
terminated on rescue, and cannot outlive the lease anyway), and the lost
attempt, when its worker comes back, records nothing.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.acceptance.fault.figures import Figures
from tests.acceptance.fault.harness import (
    SLOW_FUNCTION,
    environment,
    insert_stats_jobs,
    instrument_stats,
    seconds,
    start_worker,
    stop_all,
    stranded,
    wait_started,
)
from tests.acceptance.fault.proxy import pausable_proxy
from tests.support.db import query, scalar
from tests.support.leagues import load_fixture
from tests.support.processes import Process
from tests.support.waiting import wait_for

LEASE_SECONDS = 5
DELAY_MS = 2000

# The rescuer's stats functions time out quickly, so that a rescue blocked by
# the lost attempt's lock shows up as failed attempts within seconds.
SETTINGS = {
    "JOB_LEASE_SECONDS": str(LEASE_SECONDS),
    "STATS_FUNCTION_TIMEOUT_SECONDS": "4",
    "RETRY_BACKOFF_SECONDS": "0.5",
}


@dataclass(frozen=True)
class Plan:
    run: str
    rounds: int  # one job per round: frozen while held, completed by the other worker


PLANS = [
    pytest.param(Plan("quick", 1), id="quick"),
    pytest.param(Plan("long", 4), id="long", marks=pytest.mark.slow),
]


def _function_running(db_url: str, job_id: str) -> Callable[[], bool]:
    """Is the slowed function running on the server, for the job's first holder?"""
    return lambda: bool(
        scalar(
            db_url,
            """SELECT count(*) FROM pg_stat_activity a, background_job_status j
               WHERE a.datname = current_database() AND a.state = 'active'
                 AND a.query LIKE %s AND j.id = %s AND j.status = 'processing'""",
            f"SELECT {SLOW_FUNCTION}(%",
            job_id,
        )
    )


def _finished(db_url: str, job_id: str) -> Callable[[], bool]:
    return lambda: scalar(
        db_url,
        "SELECT status IN ('completed', 'failed') FROM background_job_status WHERE id = %s",
        job_id,
    )


def _prepare(db_url: str) -> dict[str, object]:
    """The tiny league with the slowed function; the environment for the figures."""
    load_fixture(db_url, "tiny")
    instrument_stats(db_url, {SLOW_FUNCTION: DELAY_MS})
    return environment(db_url)


def _start_workers(start: Callable[..., Process], urls: dict[str, str]) -> dict[str, Process]:
    """A worker per id, each on its database URL, once all have started."""
    workers = {w: start_worker(start, url, w, **SETTINGS) for w, url in urls.items()}
    for worker_id, proc in workers.items():
        wait_started(proc, worker_id)
    return workers


def _gave_up_more_than(proc: Process, times: int) -> Callable[[], bool]:
    """Has the worker given up on a lost attempt more than `times` times?

    After a freeze or a cut, the lease watch usually stops the attempt first
    ("Could not renew the lease"); else the heartbeat finds the lease lost, or
    the outcome is refused.
    """
    return lambda: (
        proc.output.count("is no longer ours")
        + proc.output.count("Lost the lease of job")
        + proc.output.count("Could not renew the lease of job")
        > times
    )


@dataclass
class Round:
    cut_to_completed: float
    lease_expired_to_rescued: float
    rescued_to_completed: float


def _check_round(db_url: str, job_id: str, lost: str, rescuer: str, cut_at: object) -> Round:
    """The job was completed by the rescuer on attempt 2, with only the lost attempt recorded."""
    row = query(
        db_url,
        """SELECT status, attempts, results ->> 'worker_id', (results ->> 'attempt')::int,
                  attempt_errors, error_message,
                  extract(epoch FROM completed_at - %s::timestamptz)::float8
           FROM background_job_status WHERE id = %s""",
        cut_at,
        job_id,
    )[0]
    status, attempts, worker, attempt, errors, error, cut_to_completed = row
    assert status == "completed", f"{status}: {error}; attempts {errors}"
    assert (attempts, worker, attempt) == (2, rescuer, 2)
    assert [(e["attempt"], e["worker"], e["error"]) for e in errors] == [
        (1, lost, "worker lost")
    ], errors
    # Attempt 2 ran all ten functions; attempt 1 committed none after the cut.
    runs = dict(
        query(
            db_url,
            "SELECT attempt, count(*) FROM fault_function_runs WHERE job_id = %s AND "
            "(attempt = 2 OR finished_at > %s) GROUP BY 1",
            job_id,
            cut_at,
        )
    )
    assert runs == {2: 10}, runs
    lost_entry = errors[0]
    timing = query(
        db_url,
        """SELECT extract(epoch FROM %s::timestamptz - %s::timestamptz)::float8,
                  extract(epoch FROM completed_at - %s::timestamptz)::float8
           FROM background_job_status WHERE id = %s""",
        lost_entry["at"],
        lost_entry["lease_expired_at"],
        lost_entry["at"],
        job_id,
    )[0]
    return Round(float(cut_to_completed), float(timing[0]), float(timing[1]))


def _run_rounds(
    db_url: str,
    plan: Plan,
    workers: dict[str, Process],
    cut: Callable[[str], object],
    heal: Callable[[str], None],
) -> tuple[list[Round], int]:
    """Each round: w1 claims a job, is cut off mid-function, w2 completes it, w1 comes back.

    `cut(worker_id)` isolates the worker and returns the database's clock at
    that moment; `heal(worker_id)` brings it back. Returns the rounds and how
    many of the lost attempts' sessions the rescues terminated.
    """
    rounds = []
    for n in range(plan.rounds):
        # Only w1 may claim the job: w2 waits, paused, until w1 is cut off.
        workers["w2"].signal(signal.SIGSTOP)
        (job_id,) = insert_stats_jobs(db_url, 1, max_attempts=3)
        wait_for(_function_running(db_url, job_id), 60, f"w1 to run {SLOW_FUNCTION}")
        holder = scalar(db_url, "SELECT locked_by FROM background_job_status WHERE id = %s", job_id)
        assert holder == "w1"
        cut_at = cut("w1")
        workers["w2"].signal(signal.SIGCONT)
        wait_for(_finished(db_url, job_id), 90, f"round {n + 1}'s job to end")
        heal("w1")
        rounds.append(_check_round(db_url, job_id, "w1", "w2", cut_at))
        # The lost attempt comes back and finds the job is no longer its own: its heartbeat
        # stops it, or, when its function's failure comes first, its outcome is refused.
        wait_for(_gave_up_more_than(workers["w1"], n), 60, "w1 to give up")
        after = query(
            db_url,
            "SELECT status, attempts, results ->> 'worker_id' FROM background_job_status "
            "WHERE id = %s",
            job_id,
        )
        assert after == [("completed", 2, "w2")]
    terminated = sum(
        int(line.rsplit("terminated ", 1)[1].split()[0])
        for proc in workers.values()
        for line in proc.output.splitlines()
        if "session(s) of its lost attempt" in line
    )
    return rounds, terminated


def _record(
    record_figures: Callable[[Figures], Path],
    scenario: str,
    plan: Plan,
    faults: str,
    rounds: list[Round],
    terminated: int,
    db_url: str,
    env: dict[str, object],
) -> None:
    record_figures(
        Figures(
            scenario=scenario,
            run=plan.run,
            load=f"{plan.rounds} stats job(s), one at a time, +{DELAY_MS / 1000:g} s in "
            f"{SLOW_FUNCTION}; 2 workers",
            faults=faults,
            jobs_in=plan.rounds,
            jobs_completed=len(rounds),
            lost=plan.rounds - len(rounds),
            duplicated_at_once=0,
            stranded=stranded(db_url),
            recovery=f"{max(r.cut_to_completed for r in rounds):.1f} s max (cut to completed)",
            details={
                "cut off to completed by the other worker": seconds(
                    r.cut_to_completed for r in rounds
                ),
                "lease expiry to rescue": seconds(r.lease_expired_to_rescued for r in rounds),
                "rescue to completed (the whole job, run again)": seconds(
                    r.rescued_to_completed for r in rounds
                ),
                "lost attempts' sessions terminated by the rescue": terminated,
                "attempts per job": "2 (the lost one, then the rescuer's); no failed attempt",
                "outcomes recorded by the lost attempts": 0,
                "lease": f"{LEASE_SECONDS} s; STATS_FUNCTION_TIMEOUT_SECONDS 4 "
                "(a rescue blocked by the lost lock would fail within it)",
            },
            environment=env,
        )
    )


@pytest.mark.parametrize("plan", PLANS)
def test_a_frozen_worker_cannot_block_its_jobs_rescue(
    db_url: str,
    start: Callable[..., Process],
    record_figures: Callable[[Figures], Path],
    plan: Plan,
) -> None:
    env = _prepare(db_url)
    workers = _start_workers(start, {"w1": db_url, "w2": db_url})

    def freeze(worker_id: str) -> object:
        workers[worker_id].signal(signal.SIGSTOP)
        return scalar(db_url, "SELECT clock_timestamp()")

    def thaw(worker_id: str) -> None:
        workers[worker_id].signal(signal.SIGCONT)

    rounds, terminated = _run_rounds(db_url, plan, workers, freeze, thaw)
    assert stop_all(workers.values()) == [0, 0]
    assert stranded(db_url) == 0
    _record(
        record_figures,
        "frozen-worker",
        plan,
        f"{plan.rounds} x SIGSTOP of the holder mid-function, SIGCONT after the rescue",
        rounds,
        terminated,
        db_url,
        env,
    )


@pytest.mark.parametrize("plan", PLANS)
def test_a_partitioned_worker_cannot_block_its_jobs_rescue(
    db_url: str,
    start: Callable[..., Process],
    record_figures: Callable[[Figures], Path],
    plan: Plan,
) -> None:
    env = _prepare(db_url)
    with pausable_proxy(db_url) as proxy:
        workers = _start_workers(start, {"w1": proxy.url, "w2": db_url})

        def partition(_: str) -> object:
            proxy.pause()
            return scalar(db_url, "SELECT clock_timestamp()")

        def heal(_: str) -> None:
            proxy.resume()

        rounds, terminated = _run_rounds(db_url, plan, workers, partition, heal)
        # w1 works normally again through the healed network.
        workers["w2"].signal(signal.SIGSTOP)
        (after,) = insert_stats_jobs(db_url, 1)
        wait_for(_finished(db_url, after), 60, "a job after the partition")
        workers["w2"].signal(signal.SIGCONT)
        assert query(
            db_url,
            "SELECT status, results ->> 'worker_id' FROM background_job_status WHERE id = %s",
            after,
        ) == [("completed", "w1")]
        assert stop_all(workers.values()) == [0, 0]
    assert stranded(db_url) == 0
    _record(
        record_figures,
        "partition",
        plan,
        f"{plan.rounds} x a proxy between holder and database stops forwarding "
        "mid-function, resumes after the rescue",
        rounds,
        terminated,
        db_url,
        env,
    )
