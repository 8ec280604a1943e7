"""Every job-table operation, each one SQL statement where it can be.

The table `background_job_status` is the queue, the status record and the
history at once (migrations/0001_job_queue.sql). Every write after a claim
is fenced by the attempt it belongs to: the job id, the worker (`locked_by`)
and the attempt number (`attempts`) the claim set. A worker whose lease was
taken away, even one that has since claimed the same job again, cannot
write for the lost attempt: its late writes match no row and change nothing.
Texts that came from elsewhere (a webhook's answer, a database error) are
cut to a few KB before they are stored (`bounded`).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from capo_worker.constants import (
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_QUEUE_NAME,
    DEFAULT_TENANT_ID,
    MAX_RETRY_BACKOFF_SECONDS,
    STATS_JOB_TYPE,
)
from capo_worker.job_row import STATUSES, Attempt, Job, job_columns
from capo_worker.text import bounded, bounded_text, one_line

WORKER_LOST = "worker lost"
MAX_COALESCED_IDS = 5  # request ids a coalesced job's payload names; the rest are counted
MAX_RECORDED_TEXT = 200

Conn = psycopg.AsyncConnection[Any]


_JOB_COLUMNS = job_columns()


# --- enqueue ------------------------------------------------------------------


@dataclass(frozen=True)
class EnqueueResult:
    job_id: str
    deduplicated: bool  # the request id was seen before, or the request joined a queued job


_ENQUEUE = """
WITH seen AS (
    SELECT job_id FROM background_job_requests WHERE request_id = %(request_id)s
), joinable AS (
    -- Coalescing: a queued stats job of the same tenant that no worker has
    -- started yet will recompute everything this request asks for.
    SELECT id,
           -- what joined before (tolerating odd values written by others)
           CASE WHEN jsonb_typeof(job_payload -> 'coalescedCount') = 'number'
                THEN LEAST(GREATEST((job_payload ->> 'coalescedCount')::numeric, 0), 1e15)::bigint
                ELSE 0 END AS count,
           CASE WHEN jsonb_typeof(job_payload -> 'coalescedRequestIds') = 'array'
                THEN job_payload -> 'coalescedRequestIds' ELSE '[]'::jsonb END AS ids
    FROM background_job_status
    WHERE %(coalesce)s AND NOT EXISTS (SELECT 1 FROM seen)
      AND status = 'queued' AND attempts = 0 AND job_type = %(job_type)s
      AND queue_name = %(queue_name)s
      AND COALESCE(tenant_id, %(default_tenant)s::uuid) = %(tenant_id)s::uuid
      AND run_after <= now() AND jsonb_typeof(job_payload) = 'object'
    ORDER BY created_at
    LIMIT 1
    FOR UPDATE
), joined AS (
    -- The job's payload only counts the joining requests and names the first
    -- few: it stays small however many join (each is recorded below).
    UPDATE background_job_status j
    SET job_payload = j.job_payload || jsonb_build_object(
            'coalescedCount', joinable.count + 1,
            'coalescedRequestIds', CASE
                WHEN jsonb_array_length(joinable.ids) < %(max_ids)s
                THEN joinable.ids || to_jsonb(%(request_id)s::text)
                ELSE joinable.ids END),
        priority = GREATEST(COALESCE(j.priority, 1), %(priority)s)
    FROM joinable WHERE j.id = joinable.id
    RETURNING j.id
), inserted AS (
    INSERT INTO background_job_status
        (job_type, job_payload, status, priority, tenant_id, queue_name, max_attempts,
         run_after, unique_key)
    SELECT %(job_type)s, %(payload)s::jsonb, 'queued', %(priority)s, %(tenant_id)s::uuid,
           %(queue_name)s, %(max_attempts)s, COALESCE(%(run_after)s, now()), %(unique_key)s
    WHERE NOT EXISTS (SELECT 1 FROM seen) AND NOT EXISTS (SELECT 1 FROM joined)
    ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL DO NOTHING
    RETURNING id
), served_by AS (
    SELECT id FROM joined UNION ALL SELECT id FROM inserted
), recorded AS (
    INSERT INTO background_job_requests (request_id, job_id, triggered_by, match_id, user_id)
    SELECT %(request_id)s, id, %(trigger)s, %(match_id)s, %(user_id)s FROM served_by
    ON CONFLICT (request_id) DO NOTHING
)
SELECT (SELECT job_id::text FROM seen) AS seen,
       (SELECT id::text FROM joined) AS joined,
       (SELECT id::text FROM inserted) AS inserted,
       (SELECT id::text FROM background_job_status
         WHERE %(unique_key)s IS NOT NULL AND unique_key = %(unique_key)s) AS same_key
"""


def _request_record(payload: dict[str, Any]) -> dict[str, Any]:
    """What background_job_requests keeps of a request: trigger, match and user."""

    def text(value: Any) -> str | None:
        return value[:MAX_RECORDED_TEXT] if isinstance(value, str) else None

    match_id = payload.get("matchId")
    if not isinstance(match_id, int) or isinstance(match_id, bool) or not 0 < match_id < 2**31:
        match_id = None  # matches.match_id is an integer
    return {
        "trigger": text(payload.get("triggeredBy")),
        "match_id": match_id,
        "user_id": text(payload.get("userId")),
    }


async def enqueue(
    conn: Conn,
    *,
    payload: dict[str, Any],
    request_id: str,
    tenant_id: str = DEFAULT_TENANT_ID,
    job_type: str = STATS_JOB_TYPE,
    priority: int = 1,
    queue_name: str = DEFAULT_QUEUE_NAME,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    coalesce: bool = True,
    run_after: dt.datetime | None = None,
    unique_key: str | None = None,
) -> EnqueueResult:
    """Store a job for the request, or return the job that already serves it.

    Idempotent on `request_id`; with `coalesce`, joins a queued job of the same
    tenant and type that has not started. Serialised per request id and per
    tenant with transaction advisory locks, so concurrent requests cannot
    create two jobs where one was meant.
    """
    params = {
        "request_id": request_id,
        "payload": json.dumps(payload),
        "max_ids": MAX_COALESCED_IDS,
        **_request_record(payload),
        "tenant_id": tenant_id,
        "default_tenant": DEFAULT_TENANT_ID,
        "job_type": job_type,
        "priority": priority,
        "queue_name": queue_name,
        "max_attempts": max_attempts,
        "coalesce": coalesce,
        "run_after": run_after,
        "unique_key": unique_key,
    }
    async with conn.transaction():
        # Request lock first, then tenant lock, always in this order (one round trip).
        await conn.execute(
            """SELECT pg_advisory_xact_lock(hashtext('capo_enqueue_request'), hashtext(%s)),
                      pg_advisory_xact_lock(hashtext('capo_enqueue_tenant'), hashtext(%s))""",
            (request_id, f"{queue_name}/{tenant_id}"),
        )
        cur = await conn.cursor(row_factory=dict_row).execute(_ENQUEUE, params)
        row = await cur.fetchone()
    assert row is not None
    if row["inserted"]:
        return EnqueueResult(row["inserted"], deduplicated=False)
    job_id = row["seen"] or row["joined"] or row["same_key"]
    if job_id is None:  # only possible if a unique_key job was deleted meanwhile
        raise RuntimeError("enqueue served the request with no job; retry the request")
    return EnqueueResult(job_id, deduplicated=True)


# --- claim, heartbeat, finish -------------------------------------------------

_CLAIM = f"""
WITH next AS (
    SELECT id FROM background_job_status
    WHERE status = 'queued' AND queue_name = %(queue_name)s
      AND job_type = ANY(%(job_types)s) AND run_after <= now()
    -- Exactly the claim index's order (no tie-breaker on id): the scan stops
    -- after `limit` rows instead of sorting the whole backlog on every claim.
    ORDER BY priority DESC NULLS LAST, created_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE background_job_status j
SET status = 'processing', started_at = now(), completed_at = NULL,
    locked_by = %(worker_id)s, heartbeat_at = now(),
    lease_expires_at = now() + make_interval(secs => %(lease_seconds)s),
    attempts = j.attempts + 1
FROM next WHERE j.id = next.id
RETURNING {job_columns("j")}
"""


async def claim(
    conn: Conn,
    *,
    worker_id: str,
    job_types: list[str],
    lease_seconds: float,
    limit: int = 1,
    queue_name: str = DEFAULT_QUEUE_NAME,
) -> list[Job]:
    """Take up to `limit` claimable jobs: highest priority first, then oldest."""
    cur = await conn.cursor(row_factory=dict_row).execute(
        _CLAIM,
        {
            "queue_name": queue_name,
            "job_types": job_types,
            "limit": limit,
            "worker_id": worker_id,
            "lease_seconds": lease_seconds,
        },
    )
    rows = await cur.fetchall()
    return sorted((Job.of_row(r) for r in rows), key=lambda j: (-(j.priority or 0), j.created_at))


def _fence(attempts: list[Attempt]) -> tuple[list[str], list[int]]:
    return [a.job_id for a in attempts], [a.number for a in attempts]


_HEARTBEAT = """
WITH mine AS (
    SELECT id FROM background_job_status
    WHERE (id, attempts) IN (SELECT * FROM unnest(%(ids)s::uuid[], %(numbers)s::int[]))
      AND locked_by = %(worker_id)s AND status = 'processing'
    ORDER BY id
    FOR UPDATE  -- in id order, like complete_many: the two cannot deadlock
)
UPDATE background_job_status b
SET lease_expires_at = now() + make_interval(secs => %(lease)s), heartbeat_at = now()
FROM mine WHERE b.id = mine.id
RETURNING b.id::text, b.attempts
"""


async def heartbeat(
    conn: Conn, *, attempts: list[Attempt], worker_id: str, lease_seconds: float
) -> set[Attempt]:
    """Extend the leases of our running attempts; return the attempts we still hold."""
    if not attempts:
        return set()
    ids, numbers = _fence(attempts)
    cur = await conn.execute(
        _HEARTBEAT,
        {"ids": ids, "numbers": numbers, "worker_id": worker_id, "lease": lease_seconds},
    )
    return {Attempt(str(r[0]), int(r[1])) for r in await cur.fetchall()}


_COMPLETE_MANY = """
WITH done AS (
    -- The results come as one JSON array, in the order of the ids: one value to
    -- send instead of an array of jsonb, which the driver escapes element by element.
    SELECT * FROM ROWS FROM (unnest(%(ids)s::uuid[]), unnest(%(numbers)s::int[]),
                             jsonb_array_elements(%(results)s::jsonb))
        AS d(id, attempt, results)
), mine AS (
    SELECT j.id FROM background_job_status j JOIN done ON done.id = j.id
    WHERE j.attempts = done.attempt AND j.locked_by = %(worker_id)s AND j.status = 'processing'
    ORDER BY j.id
    FOR UPDATE OF j  -- in id order, like heartbeat: the two cannot deadlock
)
UPDATE background_job_status b
SET status = 'completed', completed_at = now(), results = done.results, error_message = NULL,
    locked_by = NULL, lease_expires_at = NULL
FROM mine, done
WHERE b.id = mine.id AND done.id = mine.id
RETURNING b.id::text, b.attempts
"""


async def complete_many(
    conn: Conn, *, worker_id: str, results: dict[Attempt, dict[str, Any]]
) -> set[Attempt]:
    """Mark the jobs of several of our attempts completed in one statement.

    Returns the attempts that were still current and whose jobs are now
    completed; the others (no longer current) are left as they are.
    """
    if not results:
        return set()
    ids, numbers = _fence(list(results))
    cur = await conn.execute(
        _COMPLETE_MANY,
        {
            "ids": ids,
            "numbers": numbers,
            "results": Jsonb([bounded(r) for r in results.values()]),
            "worker_id": worker_id,
        },
    )
    return {Attempt(str(r[0]), int(r[1])) for r in await cur.fetchall()}


@dataclass(frozen=True)
class FailOutcome:
    status: str  # 'queued' (will be retried) or 'failed' (attempts spent)
    run_after: dt.datetime | None


_FAIL = """
WITH j AS (
    SELECT id, attempts, max_attempts,
           %(retryable)s AND attempts < max_attempts AS retry
    FROM background_job_status
    WHERE id = %(job_id)s AND attempts = %(attempt)s AND locked_by = %(worker_id)s
      AND status = 'processing'
    FOR UPDATE
)
UPDATE background_job_status b
SET attempt_errors = b.attempt_errors || jsonb_build_array(jsonb_build_object(
        'attempt', b.attempts, 'error', %(error)s::text, 'worker', b.locked_by,
        'at', now())),
    error_message = %(error)s,
    results = COALESCE(%(results)s, b.results),
    status = CASE WHEN j.retry THEN 'queued' ELSE 'failed' END,
    run_after = CASE WHEN j.retry
        THEN now() + make_interval(secs => LEAST(%(max_backoff)s,
                 %(backoff)s * power(2, b.attempts - 1) * (0.9 + random() * 0.2)))
        ELSE b.run_after END,
    completed_at = CASE WHEN j.retry THEN NULL ELSE now() END,
    locked_by = NULL, lease_expires_at = NULL
FROM j WHERE b.id = j.id
RETURNING b.status, b.run_after
"""


async def fail(
    conn: Conn,
    *,
    attempt: Attempt,
    worker_id: str,
    error: str,
    results: dict[str, Any] | None = None,
    retryable: bool = True,
    backoff_seconds: float = 10.0,
) -> FailOutcome | None:
    """Record a failed attempt: back to queued after a backoff, or failed for good.

    The delay doubles with each attempt (backoff, 2x, 4x, ... with +-10 %
    jitter, at most an hour). Returns None if the attempt is no longer current.
    """
    cur = await conn.execute(
        _FAIL,
        {
            "job_id": attempt.job_id,
            "attempt": attempt.number,
            "worker_id": worker_id,
            "error": bounded_text(error),
            "results": Jsonb(bounded(results)) if results is not None else None,
            "retryable": retryable,
            "backoff": backoff_seconds,
            "max_backoff": MAX_RETRY_BACKOFF_SECONDS,
        },
    )
    row = await cur.fetchone()
    return FailOutcome(str(row[0]), row[1]) if row else None


async def release(conn: Conn, *, attempts: list[Attempt], worker_id: str) -> list[Attempt]:
    """Give jobs back to the queue at shutdown; the interrupted attempt is not counted."""
    if not attempts:
        return []
    ids, numbers = _fence(attempts)
    cur = await conn.execute(
        """UPDATE background_job_status
           SET status = 'queued', attempts = GREATEST(attempts - 1, 0), run_after = now(),
               locked_by = NULL, lease_expires_at = NULL, started_at = NULL
           WHERE (id, attempts) IN (SELECT * FROM unnest(%s::uuid[], %s::int[]))
             AND locked_by = %s AND status = 'processing'
           RETURNING id::text, attempts + 1""",
        (ids, numbers, worker_id),
    )
    return [Attempt(str(r[0]), int(r[1])) for r in await cur.fetchall()]


# --- rescue, retry, prune -----------------------------------------------------


@dataclass(frozen=True)
class RescuedJob:
    id: str
    status: str  # 'queued' or 'failed'
    lost_worker: str | None
    lease_expired_at: dt.datetime | None
    lost_attempt: int = 0

    @property
    def attempt(self) -> Attempt:
        return Attempt(self.id, self.lost_attempt)


_RESCUE = """
WITH lost AS (
    SELECT id, locked_by, lease_expires_at FROM background_job_status
    WHERE status = 'processing'
      AND (lease_expires_at < now()
           -- rows left in processing by the reference worker, which had no lease
           -- (and rows with no time at all, which nothing else would ever pick up)
           OR (lease_expires_at IS NULL
               AND COALESCE(started_at, updated_at, created_at, '-infinity')
                   < now() - make_interval(secs => %(lease)s)))
    FOR UPDATE SKIP LOCKED
)
UPDATE background_job_status b
SET attempt_errors = b.attempt_errors || jsonb_build_array(jsonb_build_object(
        'attempt', b.attempts, 'error', %(error)s::text, 'worker', b.locked_by, 'at', now(),
        'lease_expired_at', lost.lease_expires_at)),
    error_message = %(error)s,
    status = CASE WHEN b.attempts < b.max_attempts THEN 'queued' ELSE 'failed' END,
    completed_at = CASE WHEN b.attempts < b.max_attempts THEN NULL ELSE now() END,
    run_after = now(), locked_by = NULL, lease_expires_at = NULL
FROM lost WHERE b.id = lost.id
RETURNING b.id::text, b.status, lost.locked_by, lost.lease_expires_at, b.attempts
"""


async def rescue_expired(conn: Conn, *, lease_seconds: float) -> list[RescuedJob]:
    """Jobs of dead workers (lease expired): back to queued, or failed when attempts are spent.

    Terminating the lost attempts' sessions is `terminate_attempts`, called next.
    """
    cur = await conn.execute(_RESCUE, {"lease": lease_seconds, "error": WORKER_LOST})
    return [RescuedJob(str(r[0]), str(r[1]), r[2], r[3], int(r[4])) for r in await cur.fetchall()]


@dataclass(frozen=True)
class Termination:
    terminated: int  # sessions of the lost attempts that were ended
    refused: list[str]  # why the others could not be (the role lacks the right)


async def terminate_attempts(conn: Conn, attempts: list[Attempt]) -> Termination:
    """End the database sessions still working for lost attempts (`pg_terminate_backend`).

    A worker that froze or was cut off mid-job leaves its stats transactions
    open, holding their locks until the lease-derived timeouts end them; the
    rescue ends them at once, so the job's next attempt does not wait on them.
    They are found by the `application_name` the stats runner gives them.
    Ending another role's session needs membership in pg_signal_backend (the
    same role always may); without it the session is left to the timeouts.
    """
    if not attempts:
        return Termination(0, [])
    cur = await conn.execute(
        """SELECT pid FROM pg_stat_activity
           WHERE pid <> pg_backend_pid() AND application_name LIKE ANY(%s)""",
        ([f"{a.application_name} %" for a in attempts],),
    )
    terminated, refused = 0, []
    for (pid,) in await cur.fetchall():
        try:
            row = await (await conn.execute("SELECT pg_terminate_backend(%s)", (pid,))).fetchone()
        except psycopg.errors.InsufficientPrivilege as exc:
            refused.append(one_line(exc))
            continue
        terminated += bool(row and row[0])
    return Termination(terminated, refused)


async def retry(
    conn: Conn, *, job_id: str, extra_attempts: int = DEFAULT_MAX_ATTEMPTS
) -> Job | None:
    """Manual retry of a failed job: queued again, retry_count + 1, history kept.

    The job gets `extra_attempts` more automatic attempts. Returns None when
    the job does not exist or is not failed.
    """
    cur = await conn.cursor(row_factory=dict_row).execute(
        f"""UPDATE background_job_status
            SET status = 'queued', retry_count = retry_count + 1, run_after = now(),
                completed_at = NULL, max_attempts = attempts + %s
            WHERE id = %s AND status = 'failed'
            RETURNING {_JOB_COLUMNS}""",
        (extra_attempts, job_id),
    )
    row = await cur.fetchone()
    return Job.of_row(row) if row else None


async def prune(
    conn: Conn, *, older_than_days: float, include_legacy: bool = False, batch_size: int = 5000
) -> int:
    """Delete completed and failed jobs finished more than N days ago; never active ones.

    Jobs no capo-worker ever ran (attempts = 0: the Node worker's history on an
    adopted database) are kept unless `include_legacy`.
    """
    total = 0
    while True:
        cur = await conn.execute(
            """DELETE FROM background_job_status
               WHERE id IN (
                   SELECT id FROM background_job_status
                   WHERE status IN ('completed', 'failed')
                     AND COALESCE(completed_at, updated_at, created_at)
                         < now() - make_interval(secs => %s)
                     AND (attempts > 0 OR %s)
                   LIMIT %s)""",
            (older_than_days * 86400, include_legacy, batch_size),
        )
        total += cur.rowcount
        if cur.rowcount < batch_size:
            return total


async def count_legacy_finished(conn: Conn, *, older_than_days: float) -> int:
    """Finished jobs no capo-worker ran that `prune` would delete with include_legacy."""
    cur = await conn.execute(
        """SELECT count(*) FROM background_job_status
           WHERE status IN ('completed', 'failed') AND attempts = 0
             AND COALESCE(completed_at, updated_at, created_at)
                 < now() - make_interval(secs => %s)""",
        (older_than_days * 86400,),
    )
    row = await cur.fetchone()
    return int(row[0]) if row else 0


# --- reading --------------------------------------------------------------------


async def get_job(conn: Conn, job_id: str) -> Job | None:
    cur = await conn.cursor(row_factory=dict_row).execute(
        f"SELECT {_JOB_COLUMNS} FROM background_job_status WHERE id = %s", (job_id,)
    )
    row = await cur.fetchone()
    return Job.of_row(row) if row else None


async def list_jobs(
    conn: Conn,
    *,
    status: str | None = None,
    trigger: str | None = None,
    tenant_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Job]:
    """Newest first, optionally filtered by status, the payload's triggeredBy and tenant
    (rows without one are the default tenant's); `offset` skips that many newer ones."""
    cur = await conn.cursor(row_factory=dict_row).execute(
        f"""SELECT {_JOB_COLUMNS} FROM background_job_status
            WHERE (%(status)s::text IS NULL OR status = %(status)s)
              AND (%(trigger)s::text IS NULL OR job_payload ->> 'triggeredBy' = %(trigger)s)
              AND (%(tenant)s::uuid IS NULL
                   OR COALESCE(tenant_id, %(default_tenant)s::uuid) = %(tenant)s::uuid)
            ORDER BY created_at DESC NULLS LAST, id
            LIMIT %(limit)s OFFSET %(offset)s""",
        {
            "status": status,
            "trigger": trigger,
            "tenant": tenant_id,
            "default_tenant": DEFAULT_TENANT_ID,
            "limit": limit,
            "offset": offset,
        },
    )
    return [Job.of_row(r) for r in await cur.fetchall()]


async def job_ids_starting_with(conn: Conn, prefix: str, *, limit: int) -> list[str]:
    """Ids of the jobs whose id starts with `prefix` (hex digits and dashes), newest first."""
    cur = await conn.execute(
        """SELECT id::text FROM background_job_status WHERE id::text LIKE %s
           ORDER BY created_at DESC NULLS LAST, id LIMIT %s""",
        (prefix + "%", limit),
    )
    return [str(row[0]) for row in await cur.fetchall()]


@dataclass(frozen=True)
class QueueStats:
    counts: dict[str, int]  # status -> jobs
    ready: int  # queued and due now
    oldest_queued_age_seconds: float | None  # age of the oldest queued job that is due


async def queue_stats(conn: Conn, *, queue_name: str | None = None) -> QueueStats:
    cur = await conn.execute(
        """SELECT status, count(*),
                  count(*) FILTER (WHERE status = 'queued' AND run_after <= now()),
                  -- jobs waiting for a later run_after (retries in backoff) are not late
                  extract(epoch FROM now() - min(created_at)
                          FILTER (WHERE status = 'queued' AND run_after <= now()))
           FROM background_job_status
           WHERE %(queue)s::text IS NULL OR queue_name = %(queue)s
           GROUP BY status""",
        {"queue": queue_name},
    )
    counts: dict[str, int] = dict.fromkeys(STATUSES, 0)
    ready = 0
    oldest: float | None = None
    for status, count, due, age in await cur.fetchall():
        counts[str(status)] = int(count)
        ready += int(due)
        if age is not None:
            oldest = float(age)
    return QueueStats(counts, ready, oldest)


# --- workers ----------------------------------------------------------------------


async def register_worker(
    conn: Conn, *, worker_id: str, queue_name: str, hostname: str, pid: int, concurrency: int
) -> None:
    await conn.execute(
        """INSERT INTO capo_workers (worker_id, queue_name, hostname, pid, concurrency)
           VALUES (%s, %s, %s, %s, %s)
           ON CONFLICT (worker_id) DO UPDATE
           SET queue_name = EXCLUDED.queue_name, hostname = EXCLUDED.hostname,
               pid = EXCLUDED.pid, concurrency = EXCLUDED.concurrency,
               started_at = now(), last_seen_at = now(), stopped_at = NULL""",
        (worker_id, queue_name, hostname, pid, concurrency),
    )


async def touch_worker(conn: Conn, *, worker_id: str) -> None:
    await conn.execute(
        "UPDATE capo_workers SET last_seen_at = now() WHERE worker_id = %s", (worker_id,)
    )


async def stop_worker(conn: Conn, *, worker_id: str) -> None:
    await conn.execute(
        "UPDATE capo_workers SET stopped_at = now(), last_seen_at = now() WHERE worker_id = %s",
        (worker_id,),
    )


async def last_worker_heartbeat_age(conn: Conn) -> float | None:
    """Seconds since any running worker last reported, or None if none ever did."""
    cur = await conn.execute(
        "SELECT extract(epoch FROM now() - max(last_seen_at)) FROM capo_workers "
        "WHERE stopped_at IS NULL"
    )
    row = await cur.fetchone()
    return float(row[0]) if row and row[0] is not None else None
