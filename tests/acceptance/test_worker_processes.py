"""Real worker processes on a real PostgreSQL: exactly once, rescue, graceful stop."""

from __future__ import annotations

import json
import random
import re
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.support.db import query
from tests.support.processes import Process, process_env, processes
from tests.support.waiting import wait_for
from tests.support.worker_handlers import CREATE_RUNS_TABLE, JOB_TYPE


@pytest.fixture
def runs_db(db_url: str) -> str:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(CREATE_RUNS_TABLE)
    return db_url


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., Process]]:
    with processes(tmp_path) as factory:
        yield factory


def worker(start: Callable[..., Process], db_url: str, worker_id: str, **settings: str) -> Process:
    env = process_env(
        db_url,
        WORKER_ID=worker_id,
        JOB_HANDLER_MODULES="tests.support.worker_handlers",
        POLL_INTERVAL_MS="200",
        LOG_FORMAT="json",
        **settings,
    )
    return start(["worker"], env, worker_id)


def insert_jobs(db_url: str, payloads: list[dict[str, Any]]) -> list[str]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        rows = conn.execute(
            """INSERT INTO background_job_status (job_type, job_payload)
               SELECT %s, p FROM unnest(%s::jsonb[]) AS p
               RETURNING id::text""",
            (JOB_TYPE, [json.dumps(p) for p in payloads]),
        ).fetchall()
    return [r[0] for r in rows]


def status_of(db_url: str, job_id: str) -> str:
    return str(
        query(db_url, "SELECT status FROM background_job_status WHERE id = %s", job_id)[0][0]
    )


def test_four_workers_run_500_jobs_exactly_once(
    runs_db: str, start: Callable[..., Process]
) -> None:
    rng = random.Random(7)
    ids = insert_jobs(runs_db, [{"sleep_ms": rng.randint(0, 20)} for _ in range(500)])
    # w0 logs each job (DEBUG); the others log at the default level, INFO.
    workers = [
        worker(
            start,
            runs_db,
            f"w{i}",
            WORKER_CONCURRENCY=str(1 + i % 2),
            **({"LOG_LEVEL": "DEBUG"} if i == 0 else {}),
        )
        for i in range(4)
    ]

    def all_done() -> bool:
        rows = query(
            runs_db, "SELECT count(*) FROM background_job_status WHERE status = 'completed'"
        )
        return bool(rows[0][0] == 500)

    wait_for(all_done, 180, "500 jobs to complete", explain=lambda: stuck(runs_db, workers))
    runs = query(runs_db, "SELECT job_id::text, count(*) FROM test_job_runs GROUP BY 1")
    assert {r[0] for r in runs} == set(ids)
    assert all(count == 1 for _, count in runs), "a job ran more than once"
    overlapping = query(
        runs_db,
        """SELECT count(*) FROM test_job_runs a JOIN test_job_runs b
           ON a.job_id = b.job_id AND a.run_id < b.run_id
           AND tstzrange(a.started_at, a.finished_at) && tstzrange(b.started_at, b.finished_at)""",
    )
    assert overlapping[0][0] == 0
    by_worker = dict(query(runs_db, "SELECT worker_id, count(*) FROM test_job_runs GROUP BY 1"))
    assert set(by_worker) == {"w0", "w1", "w2", "w3"}
    jobs = query(
        runs_db,
        "SELECT count(*) FROM background_job_status "
        "WHERE attempts <> 1 OR locked_by IS NOT NULL OR lease_expires_at IS NOT NULL",
    )
    assert jobs[0][0] == 0
    for proc in workers:
        proc.signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    debug, info = (messages_of(proc) for proc in workers[:2])
    for expected in (
        "started",
        "Listening on queue stats-update-queue",
        "Received job",
        "Processing job",
        "completed in",
        "stopped",
    ):
        assert expected in debug
    # At INFO, no line per job: a summary of the jobs completed (at the latest at stop).
    assert "Received job" not in info and "completed in" not in info
    summaries = re.findall(r"Completed (\d+) job\(s\) in the last \d+ s \(([^)]*)\)", info)
    assert sum(int(n) for n, _ in summaries) == by_worker["w1"]
    assert all(types == f"{JOB_TYPE}: {n}" for n, types in summaries)


def stuck(db_url: str, workers: list[Process]) -> str:
    """The jobs by status and attempt, and each worker's state and last warnings."""
    states = query(
        db_url,
        "SELECT status, attempts, locked_by, count(*) FROM background_job_status "
        "WHERE status <> 'completed' GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
    )
    sessions = query(
        db_url,
        "SELECT count(*), current_setting('max_connections') FROM pg_stat_activity "
        "WHERE backend_type = 'client backend'",
    )
    lines = [
        f"jobs not completed (status, attempts, locked_by, count): {states}",
        f"client sessions on the server (count, max_connections): {sessions}",
    ]
    for proc in workers:
        code = proc.popen.poll()
        warnings = [
            line
            for line in proc.output.splitlines()
            if not line.startswith("{")  # a crash's traceback
            or json.loads(line)["level"] in ("warning", "error", "critical")
        ]
        lines.append(
            f"{proc.log_path.stem}: {'running' if code is None else f'exited {code}'}; "
            f"{len(warnings)} warning(s), last: {warnings[-3:]}"
        )
    return "\n".join(lines)


def messages_of(proc: Process) -> str:
    lines = [json.loads(line) for line in proc.output.splitlines() if line.startswith("{")]
    return " | ".join(line["message"] for line in lines)


def test_a_killed_workers_job_is_rescued_and_completed_by_another(
    runs_db: str, start: Callable[..., Process]
) -> None:
    [job_id] = insert_jobs(runs_db, [{"first_attempt_sleep_ms": 120_000}])
    doomed = worker(start, runs_db, "doomed", JOB_LEASE_SECONDS="5")
    wait_for(lambda: status_of(runs_db, job_id) == "processing", 30, "the job to start")
    doomed.signal(signal.SIGKILL)
    doomed.wait(10)
    rescuer = worker(start, runs_db, "rescuer", JOB_LEASE_SECONDS="5")
    wait_for(lambda: status_of(runs_db, job_id) == "completed", 60, "the job to be rescued")
    [(attempts, errors)] = query(
        runs_db, "SELECT attempts, attempt_errors FROM background_job_status WHERE id = %s", job_id
    )
    assert attempts == 2
    assert [(e["error"], e["worker"]) for e in errors] == [("worker lost", "doomed")]
    runs = query(
        runs_db, "SELECT worker_id, finished_at IS NOT NULL FROM test_job_runs ORDER BY run_id"
    )
    assert runs == [("doomed", False), ("rescuer", True)]
    assert "Rescued job" in rescuer.output


def test_sigterm_finishes_short_jobs_and_releases_long_ones(
    runs_db: str, start: Callable[..., Process]
) -> None:
    short, long = insert_jobs(
        runs_db,
        [{"sleep_ms": 1000}, {"sleep_ms_by_worker": {"leaving": 120_000}, "sleep_ms": 0}],
    )
    leaving = worker(start, runs_db, "leaving", WORKER_CONCURRENCY="2", SHUTDOWN_GRACE_SECONDS="4")
    wait_for(
        lambda: (
            status_of(runs_db, short) == "processing" and status_of(runs_db, long) == "processing"
        ),
        30,
        "both jobs to start",
    )
    leaving.signal(signal.SIGTERM)
    assert leaving.wait(30) == 0
    assert status_of(runs_db, short) == "completed"
    [(status, attempts, locked_by)] = query(
        runs_db,
        "SELECT status, attempts, locked_by FROM background_job_status WHERE id = %s",
        long,
    )
    assert (status, attempts, locked_by) == ("queued", 0, None)
    assert "Released job" in leaving.output
    worker(start, runs_db, "next")
    wait_for(lambda: status_of(runs_db, long) == "completed", 30, "the released job to run")


def test_failing_job_is_retried_with_backoff_then_failed(
    runs_db: str, start: Callable[..., Process]
) -> None:
    [job_id] = insert_jobs(runs_db, [{"fail": "always broken"}])
    worker(start, runs_db, "w", RETRY_BACKOFF_SECONDS="0.2", MAX_ATTEMPTS="3")
    wait_for(lambda: status_of(runs_db, job_id) == "failed", 60, "the job to fail for good")
    [(attempts, errors, message)] = query(
        runs_db,
        "SELECT attempts, attempt_errors, error_message FROM background_job_status WHERE id = %s",
        job_id,
    )
    assert attempts == 3 and message == "always broken"
    assert [e["attempt"] for e in errors] == [1, 2, 3]
