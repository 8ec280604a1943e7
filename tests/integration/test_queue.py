"""Queue operations against a real PostgreSQL: one test per promise of queue.py."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest

from capo_worker import queue
from capo_worker.constants import DEFAULT_TENANT_ID, STATS_JOB_TYPE, TEXT_LIMIT
from capo_worker.job_row import Attempt, Job
from capo_worker.stats.requests import priority_for
from capo_worker.text import bounded_text

Conn = psycopg.AsyncConnection[Any]
WORKER = "worker-a"
TYPES = [STATS_JOB_TYPE]


@pytest.fixture
async def conn(db_url: str) -> AsyncIterator[Conn]:
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as c:
        yield c


def payload(trigger: str = "admin", request_id: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"triggeredBy": trigger, "requestId": request_id or str(uuid.uuid4()), **extra}


async def add(conn: Conn, trigger: str = "admin", **kwargs: Any) -> queue.EnqueueResult:
    body = payload(trigger)
    return await queue.enqueue(
        conn,
        payload=body,
        request_id=body["requestId"],
        priority=priority_for(trigger),
        **kwargs,
    )


async def claim_one(conn: Conn, worker: str = WORKER, lease: float = 60) -> Job | None:
    jobs = await queue.claim(conn, worker_id=worker, job_types=TYPES, lease_seconds=lease)
    return jobs[0] if jobs else None


async def complete(conn: Conn, attempt: Attempt, results: dict[str, Any]) -> bool:
    """One attempt's completion, through the statement the worker batches them in."""
    return attempt in await queue.complete_many(conn, worker_id=WORKER, results={attempt: results})


async def scalar(conn: Conn, query: str, *params: Any) -> Any:
    row = await (await conn.execute(query.encode(), params)).fetchone()
    return row[0] if row else None


# --- enqueue ----------------------------------------------------------------------


async def test_enqueue_stores_a_queued_job_with_the_payload(conn: Conn) -> None:
    body = payload("post-match", matchId=57)
    result = await queue.enqueue(conn, payload=body, request_id=body["requestId"], priority=2)
    job = await queue.get_job(conn, result.job_id)
    assert job is not None and not result.deduplicated
    assert job.status == "queued" and job.priority == 2 and job.job_type == "stats_update"
    assert job.job_payload == body and job.tenant_id == DEFAULT_TENANT_ID
    assert job.attempts == 0 and job.retry_count == 0 and job.max_attempts == 3


async def test_same_request_id_returns_the_same_job(conn: Conn) -> None:
    body = payload("admin", request_id="req-1")
    first = await queue.enqueue(conn, payload=body, request_id="req-1")
    # Even after the job has started (so it can no longer be coalesced into).
    assert await claim_one(conn) is not None
    again = await queue.enqueue(conn, payload=body, request_id="req-1")
    assert again.job_id == first.job_id and again.deduplicated
    assert await scalar(conn, "SELECT count(*) FROM background_job_status") == 1


async def test_concurrent_duplicate_requests_store_one_job(db_url: str) -> None:
    async def one() -> str:
        async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as c:
            body = payload("cron", request_id="same")
            return (await queue.enqueue(c, payload=body, request_id="same", coalesce=False)).job_id

    ids = await asyncio.gather(*(one() for _ in range(8)))
    assert len(set(ids)) == 1


async def requests_of(conn: Conn, job_id: str) -> list[tuple[Any, ...]]:
    cur = await conn.execute(
        """SELECT request_id, triggered_by, match_id, user_id FROM background_job_requests
           WHERE job_id = %s ORDER BY received_at, request_id""",
        (job_id,),
    )
    return await cur.fetchall()


async def test_requests_coalesce_into_a_queued_job_and_are_recorded(conn: Conn) -> None:
    first = await add(conn, "admin")
    body = payload("post-match", matchId=57, userId="coach")
    second = await queue.enqueue(conn, payload=body, request_id=body["requestId"], priority=2)
    assert second.job_id == first.job_id and second.deduplicated
    job = await queue.get_job(conn, first.job_id)
    assert job is not None
    assert job.job_payload["coalescedCount"] == 1
    assert job.job_payload["coalescedRequestIds"] == [body["requestId"]]
    assert "coalescedRequests" not in job.job_payload  # no copies of whole payloads
    own = job.job_payload["requestId"]
    assert await requests_of(conn, first.job_id) == [
        (own, "admin", None, None),
        (body["requestId"], "post-match", 57, "coach"),
    ]
    assert job.priority == 2  # the joined post-match request raises the priority


async def test_coalescing_keeps_the_payload_small_however_many_join(conn: Conn) -> None:
    first = await add(conn, "admin")
    joined = []
    for i in range(200):
        body = payload("post-match", matchId=i + 1, userId=f"user-{i}", padding="x" * 60_000)
        result = await queue.enqueue(conn, payload=body, request_id=body["requestId"])
        assert result.job_id == first.job_id
        joined.append(body["requestId"])
    size = await scalar(conn, "SELECT octet_length(job_payload::text) FROM background_job_status")
    assert size < 2_000, size
    job = await queue.get_job(conn, first.job_id)
    assert job is not None
    assert job.job_payload["coalescedCount"] == 200
    assert job.job_payload["coalescedRequestIds"] == joined[: queue.MAX_COALESCED_IDS]
    recorded = await requests_of(conn, first.job_id)
    assert len(recorded) == 201  # every request, with what it asked for
    assert recorded[-1] == (joined[-1], "post-match", 200, "user-199")


@pytest.mark.parametrize(("count", "after"), [('"many"', 1), ("1e30", 10**15 + 1), ("-4", 1)])
async def test_odd_payloads_written_by_others_do_not_break_coalescing(
    conn: Conn, count: str, after: int
) -> None:
    await conn.execute(
        f"""INSERT INTO background_job_status (job_payload, status, created_at)
            VALUES ('["not", "an object"]', 'queued', now() - interval '1 minute'),
                   ('{{"triggeredBy": "admin", "coalescedCount": {count},
                      "coalescedRequestIds": "abc"}}', 'queued', now())""".encode()
    )
    result = await add(conn, "admin")
    job = await queue.get_job(conn, result.job_id)
    assert job is not None and result.deduplicated  # joined the job whose payload is an object
    assert job.job_payload["coalescedCount"] == after
    request = await scalar(conn, "SELECT request_id FROM background_job_requests")
    assert job.job_payload["coalescedRequestIds"] == [request]


async def test_enqueue_notifies_listeners(db_url: str, conn: Conn) -> None:
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as listener:
        await listener.execute("LISTEN capo_jobs")
        await add(conn)
        notes = [n async for n in listener.notifies(timeout=5, stop_after=1)]
    assert [n.payload for n in notes] == ["stats-update-queue"]


# --- claim ----------------------------------------------------------------------------


async def test_claim_takes_highest_priority_then_oldest(conn: Conn) -> None:
    admin = await queue.enqueue(conn, payload=payload(), request_id="a", coalesce=False)
    cron = await queue.enqueue(conn, payload=payload("cron"), request_id="c", coalesce=False)
    match = await queue.enqueue(
        conn, payload=payload("post-match"), request_id="m", priority=2, coalesce=False
    )
    order = [(await claim_one(conn, f"w{i}")) for i in range(3)]
    assert [j.id for j in order if j] == [match.job_id, admin.job_id, cron.job_id]
    assert await claim_one(conn) is None


async def test_claim_sets_processing_lease_and_attempt(conn: Conn) -> None:
    await add(conn)
    job = await claim_one(conn, lease=30)
    assert job is not None
    assert job.status == "processing" and job.locked_by == WORKER and job.attempts == 1
    assert job.started_at is not None and job.lease_expires_at is not None
    lease = (job.lease_expires_at - job.started_at).total_seconds()
    assert 29 <= lease <= 31


async def test_concurrent_claims_never_share_a_job(db_url: str, conn: Conn) -> None:
    for i in range(20):
        await queue.enqueue(conn, payload=payload(), request_id=f"r{i}", coalesce=False)

    async def worker(name: str) -> list[str]:
        got = []
        async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as c:
            while (job := await claim_one(c, name)) is not None:
                got.append(job.id)
        return got

    claimed = await asyncio.gather(*(worker(f"w{i}") for i in range(5)))
    flat = [j for ids in claimed for j in ids]
    assert len(flat) == 20 and len(set(flat)) == 20


async def test_rows_inserted_by_the_web_app_are_claimed(conn: Conn) -> None:
    # The web app inserts only these columns; every added column has a default.
    await conn.execute(
        """INSERT INTO background_job_status (job_type, job_payload, status, priority, retry_count)
           VALUES ('stats_update', '{"triggeredBy": "admin", "requestId": "x"}', 'queued', 1, 0)"""
    )
    job = await claim_one(conn)
    assert job is not None and job.trigger == "admin" and job.tenant_id is None
    assert job.effective_tenant_id == DEFAULT_TENANT_ID


async def test_claim_skips_jobs_not_yet_due_and_other_types(conn: Conn) -> None:
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    await queue.enqueue(conn, payload=payload(), request_id="later", run_after=later)
    await queue.enqueue(conn, payload=payload(), request_id="other", job_type="other_type")
    assert await claim_one(conn) is None


# --- heartbeat, complete, fail ---------------------------------------------------------


async def test_heartbeat_extends_only_our_leases(conn: Conn) -> None:
    await add(conn)
    job = await claim_one(conn, lease=5)
    assert job is not None
    held = await queue.heartbeat(conn, attempts=[job.attempt], worker_id=WORKER, lease_seconds=120)
    assert held == {job.attempt}
    expires = await scalar(
        conn, "SELECT lease_expires_at - now() FROM background_job_status WHERE id = %s", job.id
    )
    assert expires > dt.timedelta(seconds=100)
    assert (
        await queue.heartbeat(conn, attempts=[job.attempt], worker_id="other", lease_seconds=9)
        == set()
    )


async def test_complete_records_results_and_clears_the_lease(conn: Conn) -> None:
    await add(conn)
    job = await claim_one(conn)
    assert job is not None
    assert await complete(conn, job.attempt, {"ok": 1})
    done = await queue.get_job(conn, job.id)
    assert done is not None and done.status == "completed" and done.results == {"ok": 1}
    assert done.locked_by is None and done.lease_expires_at is None and done.completed_at
    # A second completion (a worker that lost the job) changes nothing.
    assert not await complete(conn, job.attempt, {})


async def test_failed_attempts_back_off_then_fail_with_every_error_kept(conn: Conn) -> None:
    result = await add(conn, max_attempts=3)
    delays = []
    for attempt in range(1, 4):
        job = await claim_one(conn)
        assert job is not None and job.attempts == attempt
        outcome = await queue.fail(
            conn,
            attempt=job.attempt,
            worker_id=WORKER,
            error=f"boom {attempt}",
            backoff_seconds=10,
        )
        assert outcome is not None
        if attempt < 3:
            assert outcome.status == "queued" and outcome.run_after is not None
            delay = await scalar(
                conn,
                "SELECT extract(epoch FROM run_after - now()) FROM background_job_status "
                "WHERE id = %s",
                job.id,
            )
            delays.append(float(delay))
            assert await claim_one(conn) is None  # not due yet
            await conn.execute(
                "UPDATE background_job_status SET run_after = now() WHERE id = %s", (job.id,)
            )
        else:
            assert outcome.status == "failed"
    # 10 s then 20 s, each within the +-10 % jitter.
    assert 9 <= delays[0] <= 11 and 18 <= delays[1] <= 22
    final = await queue.get_job(conn, result.job_id)
    assert final is not None and final.status == "failed" and final.completed_at is not None
    assert [e["error"] for e in final.attempt_errors] == ["boom 1", "boom 2", "boom 3"]
    assert [e["attempt"] for e in final.attempt_errors] == [1, 2, 3]
    assert final.error_message == "boom 3"


async def test_non_retryable_failure_fails_at_once(conn: Conn) -> None:
    await add(conn)
    job = await claim_one(conn)
    assert job is not None
    outcome = await queue.fail(
        conn, attempt=job.attempt, worker_id=WORKER, error="bad", retryable=False
    )
    assert outcome is not None and outcome.status == "failed"


# --- manual retry, release, rescue, prune ----------------------------------------------


async def test_manual_retry_requeues_a_failed_job_and_keeps_its_history(conn: Conn) -> None:
    await add(conn, max_attempts=1)
    job = await claim_one(conn)
    assert job is not None
    await queue.fail(conn, attempt=job.attempt, worker_id=WORKER, error="first", results={"r": 1})
    retried = await queue.retry(conn, job_id=job.id, extra_attempts=3)
    assert retried is not None and retried.status == "queued" and retried.retry_count == 1
    assert retried.max_attempts == retried.attempts + 3 and retried.completed_at is None
    assert [e["error"] for e in retried.attempt_errors] == ["first"]
    assert retried.results == {"r": 1}  # kept until the next attempt finishes
    again = await claim_one(conn)
    assert again is not None and again.id == job.id and again.attempts == 2


async def test_retry_refuses_jobs_that_are_not_failed(conn: Conn) -> None:
    queued = await add(conn)
    assert await queue.retry(conn, job_id=queued.job_id) is None
    assert await queue.retry(conn, job_id=str(uuid.uuid4())) is None
    job = await queue.get_job(conn, queued.job_id)
    assert job is not None and job.status == "queued" and job.retry_count == 0


async def test_release_gives_the_job_back_without_spending_an_attempt(conn: Conn) -> None:
    await add(conn)
    job = await claim_one(conn)
    assert job is not None
    assert await queue.release(conn, attempts=[job.attempt], worker_id=WORKER) == [job.attempt]
    back = await queue.get_job(conn, job.id)
    assert back is not None and back.status == "queued" and back.attempts == 0
    assert back.locked_by is None


async def test_rescue_requeues_expired_leases_and_fails_spent_ones(conn: Conn) -> None:
    alive = await add(conn)
    await claim_one(conn, "alive-worker", lease=60)
    lost = await queue.enqueue(conn, payload=payload(), request_id="lost", coalesce=False)
    spent = await queue.enqueue(
        conn, payload=payload(), request_id="spent", coalesce=False, max_attempts=1
    )
    await claim_one(conn, "dead-worker", lease=60)
    await claim_one(conn, "dead-worker", lease=60)
    await conn.execute(
        "UPDATE background_job_status SET lease_expires_at = now() - interval '1 second' "
        "WHERE locked_by = 'dead-worker'"
    )
    rescued = {r.id: r for r in await queue.rescue_expired(conn, lease_seconds=60)}
    assert set(rescued) == {lost.job_id, spent.job_id}
    assert rescued[lost.job_id].status == "queued"
    assert rescued[spent.job_id].status == "failed"
    assert rescued[lost.job_id].lost_worker == "dead-worker"
    requeued = await queue.get_job(conn, lost.job_id)
    assert requeued is not None and requeued.error_message == "worker lost"
    assert requeued.attempt_errors[-1]["error"] == "worker lost"
    still = await queue.get_job(conn, alive.job_id)
    assert still is not None and still.status == "processing"


async def test_rescue_picks_up_jobs_stranded_by_the_reference_worker(conn: Conn) -> None:
    # The old worker set processing without a lease; such rows come back too.
    await conn.execute(
        """INSERT INTO background_job_status (job_payload, status, started_at)
           VALUES ('{"triggeredBy": "cron", "requestId": "old"}', 'processing',
                   now() - interval '2 hours')"""
    )
    rescued = await queue.rescue_expired(conn, lease_seconds=60)
    assert [r.status for r in rescued] == ["queued"]


async def test_prune_removes_only_finished_jobs_older_than_the_limit(conn: Conn) -> None:
    ids = {}
    for name, status, age_days in [
        ("old_done", "completed", 10),
        ("old_failed", "failed", 8),
        ("new_done", "completed", 1),
        ("old_queued", "queued", 30),
        ("old_running", "processing", 30),
    ]:
        cur = await conn.execute(
            """INSERT INTO background_job_status
                   (job_payload, status, attempts, created_at, completed_at)
               VALUES ('{}', %s, 1, now() - make_interval(days => %s),
                       CASE WHEN %s IN ('completed', 'failed')
                            THEN now() - make_interval(days => %s) END)
               RETURNING id::text""",
            (status, age_days, status, age_days),
        )
        ids[name] = (await cur.fetchone())[0]  # type: ignore[index]
    assert await queue.prune(conn, older_than_days=7) == 2
    left = {
        r[0]
        for r in await (await conn.execute("SELECT id::text FROM background_job_status")).fetchall()
    }
    assert left == {ids["new_done"], ids["old_queued"], ids["old_running"]}


async def test_queue_stats_counts_by_status(conn: Conn) -> None:
    await queue.enqueue(conn, payload=payload(), request_id="1", coalesce=False)
    await queue.enqueue(conn, payload=payload(), request_id="2", coalesce=False)
    await claim_one(conn)
    stats = await queue.queue_stats(conn)
    assert stats.counts == {"queued": 1, "processing": 1, "completed": 0, "failed": 0}
    assert stats.ready == 1 and stats.oldest_queued_age_seconds is not None


async def test_complete_many_completes_only_the_jobs_still_ours(conn: Conn) -> None:
    for i in range(3):
        await queue.enqueue(conn, payload=payload(), request_id=f"m{i}", coalesce=False)
    mine = [await claim_one(conn, WORKER) for _ in range(2)]
    theirs = await claim_one(conn, "other-worker")
    assert all(mine) and theirs is not None
    ids = {j.attempt: {"n": i} for i, j in enumerate(mine) if j}
    ids[theirs.attempt] = {"n": 99}
    done = await queue.complete_many(conn, worker_id=WORKER, results=ids)
    assert done == {j.attempt for j in mine if j}
    for i, job in enumerate(mine):
        assert job is not None
        stored = await queue.get_job(conn, job.id)
        assert stored is not None and stored.status == "completed" and stored.results == {"n": i}
    untouched = await queue.get_job(conn, theirs.id)
    assert untouched is not None and untouched.status == "processing" and untouched.results is None


# --- fencing by attempt, rescue of lost attempts, bounded texts ---------------------


async def _rescue_and_reclaim(conn: Conn) -> tuple[Job, Job]:
    """Our attempt 1 loses its lease and is rescued; we claim the job again (attempt 2)."""
    await add(conn)
    first = await claim_one(conn)
    assert first is not None
    await conn.execute(
        "UPDATE background_job_status SET lease_expires_at = now() - interval '1 second'"
    )
    assert [r.attempt for r in await queue.rescue_expired(conn, lease_seconds=60)] == [
        first.attempt
    ]
    second = await claim_one(conn)
    assert second is not None and second.id == first.id and second.attempts == 2
    return first, second


async def test_a_lost_attempt_cannot_write_after_its_worker_claimed_the_job_again(
    conn: Conn,
) -> None:
    stale, current = await _rescue_and_reclaim(conn)
    assert stale.attempt != current.attempt
    # Same job, same worker: only the attempt tells them apart, and it fences every write.
    assert await queue.heartbeat(
        conn, attempts=[stale.attempt, current.attempt], worker_id=WORKER, lease_seconds=60
    ) == {current.attempt}
    assert not await complete(conn, stale.attempt, {"from": "stale"})
    assert await queue.fail(conn, attempt=stale.attempt, worker_id=WORKER, error="stale") is None
    assert await queue.release(conn, attempts=[stale.attempt], worker_id=WORKER) == []
    job = await queue.get_job(conn, current.id)
    assert job is not None and job.status == "processing" and job.attempts == 2
    assert job.results is None and job.error_message == "worker lost"
    assert await complete(conn, current.attempt, {"from": "current"})
    done = await queue.get_job(conn, current.id)
    assert done is not None and done.results == {"from": "current"}


async def test_rescue_terminates_the_sessions_of_the_lost_attempt_only(
    conn: Conn, db_url: str
) -> None:
    await add(conn)
    job = await claim_one(conn)
    assert job is not None
    # The lost attempt's stats transaction, open and holding a lock, as a frozen worker leaves it;
    # and a session of another attempt of the same job, which must be left alone.
    lost = await psycopg.AsyncConnection.connect(db_url, autocommit=True)
    other = await psycopg.AsyncConnection.connect(db_url, autocommit=True)
    try:
        await lost.execute("BEGIN")
        await lost.execute(
            "SELECT set_config('application_name', %s, true), pg_advisory_xact_lock(42)",
            (f"{job.attempt.application_name} update_power_ratings",),
        )
        await other.execute(
            "SELECT set_config('application_name', %s, false)",
            (f"{Attempt(job.id, job.attempts + 10).application_name} x",),
        )
        ended = await queue.terminate_attempts(conn, [job.attempt])
        assert ended == queue.Termination(1, [])
        with pytest.raises(psycopg.OperationalError):
            await lost.execute("COMMIT")
        assert await scalar(conn, "SELECT pg_try_advisory_lock(42)")  # the lock is free
        assert (await (await other.execute("SELECT 1")).fetchone()) == (1,)
    finally:
        await lost.close()
        await other.close()


async def test_a_processing_row_with_no_time_at_all_is_rescued(conn: Conn) -> None:
    await conn.execute(
        """INSERT INTO background_job_status
               (job_payload, status, created_at, started_at, updated_at)
           VALUES ('{"requestId": "timeless"}', 'processing', NULL, NULL, NULL)"""
    )
    rescued = await queue.rescue_expired(conn, lease_seconds=60)
    assert [(r.status, r.lost_worker) for r in rescued] == [("queued", None)]


async def test_the_oldest_queued_age_counts_only_due_jobs(conn: Conn) -> None:
    await queue.enqueue(
        conn,
        payload=payload(),
        request_id="tomorrow",
        run_after=dt.datetime.now(dt.UTC) + dt.timedelta(days=1),
    )
    await conn.execute("UPDATE background_job_status SET created_at = now() - interval '3 days'")
    stats = await queue.queue_stats(conn)
    assert stats.counts["queued"] == 1 and stats.ready == 0
    assert stats.oldest_queued_age_seconds is None
    await conn.execute("UPDATE background_job_status SET run_after = now() - interval '1 minute'")
    stats = await queue.queue_stats(conn)
    assert stats.ready == 1 and stats.oldest_queued_age_seconds is not None
    assert stats.oldest_queued_age_seconds >= 3 * 86400


async def test_stored_texts_are_cut_with_a_note_of_their_size(conn: Conn) -> None:
    await add(conn)
    job = await claim_one(conn)
    assert job is not None
    huge = "x" * 1_000_000
    outcome = await queue.fail(
        conn,
        attempt=job.attempt,
        worker_id=WORKER,
        error=huge,
        results={"cache_invalidation": {"error": huge, "attempts": [{"error": huge}]}},
    )
    assert outcome is not None
    stored = await queue.get_job(conn, job.id)
    assert stored is not None and stored.results is not None
    note = "... [cut: 1,000,000 characters in all]"
    assert stored.error_message == "x" * TEXT_LIMIT + note
    assert stored.attempt_errors[-1]["error"] == stored.error_message
    cache = stored.results["cache_invalidation"]
    assert cache["error"] == stored.error_message
    assert cache["attempts"][0]["error"] == stored.error_message
    assert bounded_text("short") == "short"
