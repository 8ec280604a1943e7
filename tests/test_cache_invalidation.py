"""The cache-invalidation webhook against a real local HTTP server, and the
retry of a job whose invalidation failed (the stats are not computed again).

The server is a small stand-in for the web app's
`POST /api/internal/cache/invalidate` (spec 50 §b): Bearer key check first,
then per-tag revalidation answering 200, or 207 with the failed tags. Tests
script it per request (a status, a hang, a tag that fails N times).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psycopg
import pytest
from prometheus_client import REGISTRY
from psycopg_pool import AsyncConnectionPool

from capo_worker import queue
from capo_worker.cache import Invalidation, WebhookInvalidator, build_invalidator
from capo_worker.config import Settings, load_settings
from capo_worker.constants import DEFAULT_TENANT_ID
from capo_worker.handlers import JobContext
from capo_worker.runtime import open_runtime
from capo_worker.service import build_worker
from capo_worker.stats.job import (
    NOT_CONFIGURED,
    NOTHING_TO_INVALIDATE,
    StatsUpdateHandler,
    reusable_stats,
)
from capo_worker.stats.registry import ALL_CACHE_TAGS, STATS_FUNCTIONS, StatsFunction
from capo_worker.stats.runner import StatsRunner
from tests.leagues import load_fixture

KEY = "test-internal-key"
PATH = "/api/internal/cache/invalidate"
UNAUTHORIZED = {
    "success": False,
    "error": "Unauthorized - Invalid or missing API key",
    "invalidated_tags": [],
    "failed_tags": [],
}


# --- the stand-in web app --------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    raw: bytes

    @property
    def body(self) -> Any:
        return json.loads(self.raw)


@dataclass
class FakeWebApp:
    port: int = 0
    received: list[Received] = field(default_factory=list)
    # One entry per coming request: an HTTP status to answer with, "hang", or
    # "not-json"; when empty, the endpoint behaves normally.
    plan: list[int | str] = field(default_factory=list)
    broken: dict[str, int] = field(default_factory=dict)  # tag -> failures left (-1: always)
    retry_after: str | None = None
    on_request: Callable[[], None] | None = None
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{PATH}"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def tag_lists(self) -> list[list[str]]:
        return [r.body["tags"] for r in self.received]

    def respond(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any, bool]:
        """(status, body, hang first) for one request, as the real endpoint would answer."""
        with self.lock:
            self.received.append(Received(path, headers, raw))
            step = self.plan.pop(0) if self.plan else None
            hook = self.on_request
        if hook is not None:
            hook()
        if step == "hang":
            return 200, {"success": True, "invalidated_tags": [], "failed_tags": []}, True
        if step == "not-json":
            return 200, "OK", False
        if isinstance(step, str) and step.startswith("error-of-"):
            return (
                500,
                {"success": False, "error": "E" * int(step.removeprefix("error-of-"))},
                False,
            )
        if isinstance(step, int):
            body = UNAUTHORIZED if step == 401 else {"success": False, "error": f"boom {step}"}
            return step, body, False
        if headers.get("authorization") != f"Bearer {KEY}":
            return 401, UNAUTHORIZED, False
        tags = json.loads(raw).get("tags")
        if not isinstance(tags, list) or not tags:
            return (
                400,
                {"success": False, "error": "Invalid request: tags must be a non-empty array"},
                False,
            )
        done, failed = [], []
        with self.lock:
            for tag in tags:
                left = self.broken.get(tag, 0)
                if left:
                    self.broken[tag] = left - 1 if left > 0 else left
                    failed.append(tag)
                else:
                    done.append(tag)
        if failed:
            return (
                207,
                {
                    "success": False,
                    "invalidated_tags": done,
                    "failed_tags": failed,
                    "error": f"Failed to invalidate {len(failed)} tags",
                },
                False,
            )
        return 200, {"success": True, "invalidated_tags": done, "failed_tags": []}, False


def _handler_for(app: FakeWebApp) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, body, hang = app.respond(self.path, headers, raw)
            if hang:
                app.release.wait(30)
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if status == 429 and app.retry_after is not None:
                    self.send_header("Retry-After", app.retry_after)
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the client gave up (timeout test)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def webapp() -> Iterator[FakeWebApp]:
    app = FakeWebApp()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(app))
    server.daemon_threads = True
    app.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app
    app.release.set()
    server.shutdown()
    server.server_close()


class RecordedSleeps:
    """Stands in for asyncio.sleep between attempts: records the delays, waits not at all."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def client(app: FakeWebApp, *, key: str = KEY, timeout: float = 5.0) -> WebhookInvalidator:
    return WebhookInvalidator(app.url, key, timeout_seconds=timeout, sleep=RecordedSleeps())


def sleeps(invalidator: WebhookInvalidator) -> list[float]:
    recorder = invalidator._sleep
    assert isinstance(recorder, RecordedSleeps)
    return recorder.delays


def failures_metric() -> float:
    return REGISTRY.get_sample_value("capo_cache_invalidation_failures_total") or 0.0


TAGS = ["season_stats", "half_season_stats", "hall_of_fame"]


async def send(invalidator: WebhookInvalidator, tags: list[str] = TAGS) -> Invalidation:
    return await invalidator.invalidate(tags, source="job-admin", request_id="req-1")


# --- the client ------------------------------------------------------------------------


async def test_success_sends_the_exact_body_and_bearer_header(webapp: FakeWebApp) -> None:
    outcome = await send(client(webapp))
    assert outcome.success and outcome.tags == dict.fromkeys(TAGS, "invalidated")
    [request] = webapp.received
    assert request.path == PATH
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["content-type"] == "application/json"
    assert request.body == {"tags": TAGS, "source": "job-admin", "requestId": "req-1"}
    assert outcome.to_json()["attempts"] == [
        {
            "attempt": 1,
            "tags": TAGS,
            "status_code": 200,
            "duration_ms": outcome.attempts[0].duration_ms,
        }
    ]


async def test_two_500s_then_success_with_growing_backoff(webapp: FakeWebApp) -> None:
    webapp.plan = [500, 500]
    before = failures_metric()
    invalidator = client(webapp)
    outcome = await send(invalidator)
    assert outcome.success and outcome.error is None
    assert [a.status_code for a in outcome.attempts] == [500, 500, 200]
    assert outcome.attempts[0].error == "HTTP 500: boom 500"
    assert webapp.tag_lists == [TAGS, TAGS, TAGS]
    first, second = sleeps(invalidator)
    assert 0 < first < second  # exponential: about 1 s, then about 2 s
    assert failures_metric() == before


async def test_three_500s_fail_after_three_attempts(webapp: FakeWebApp) -> None:
    webapp.plan = [500, 500, 500, 500]
    before = failures_metric()
    outcome = await send(client(webapp))
    assert not outcome.success and not outcome.permanent
    assert len(webapp.received) == 3
    assert outcome.failed_tags == TAGS and outcome.error == "HTTP 500: boom 500"
    assert failures_metric() == before + 1


async def test_a_long_error_is_cut_to_a_few_kb_with_its_length(webapp: FakeWebApp) -> None:
    webapp.plan = ["error-of-20000"] * 3
    outcome = await send(client(webapp))
    expected = f"HTTP 500: {'E' * queue.TEXT_LIMIT}... [cut: 20,000 characters in all]"
    assert outcome.error == expected
    assert [a.error for a in outcome.attempts] == [expected] * 3


async def test_an_answer_too_long_to_read_is_reported_by_its_size(webapp: FakeWebApp) -> None:
    webapp.plan = ["error-of-5000000"] * 3
    outcome = await send(client(webapp))
    size = len(json.dumps({"success": False, "error": ""})) + 5_000_000
    assert outcome.error is not None and not outcome.permanent  # a 500: retried
    assert outcome.error.startswith(
        f'HTTP 500: an answer of {size:,} bytes, too long to read (starts: {{"success": false'
    )
    assert len(outcome.error) < 400 and len(outcome.attempts) == 3


async def test_a_hung_request_times_out_and_is_retried(webapp: FakeWebApp) -> None:
    webapp.plan = ["hang", "hang", "hang"]
    outcome = await send(client(webapp, timeout=0.3))
    assert not outcome.success and not outcome.permanent
    assert len(outcome.attempts) == 3 and len(webapp.received) == 3
    assert all(a.error == "no response within 0.3s" for a in outcome.attempts)
    assert all(a.status_code is None for a in outcome.attempts)
    assert outcome.to_json()["failed_tags"] == TAGS


async def test_a_wrong_key_gets_401_and_is_not_retried(webapp: FakeWebApp) -> None:
    before = failures_metric()
    outcome = await send(client(webapp, key="wrong-key"))
    assert len(webapp.received) == 1
    assert webapp.received[0].headers["authorization"] == "Bearer wrong-key"
    assert not outcome.success and outcome.permanent
    assert outcome.error == "HTTP 401: Unauthorized - Invalid or missing API key"
    assert failures_metric() == before + 1


@pytest.mark.parametrize("status", [400, 403, 404, 422])
async def test_other_4xx_are_not_retried(webapp: FakeWebApp, status: int) -> None:
    webapp.plan = [status]
    outcome = await send(client(webapp))
    assert len(webapp.received) == 1 and outcome.permanent and not outcome.success


@pytest.mark.parametrize("status", [408, 429, 502, 503])
async def test_408_429_and_5xx_are_retried(webapp: FakeWebApp, status: int) -> None:
    webapp.plan = [status]
    outcome = await send(client(webapp))
    assert outcome.success and [a.status_code for a in outcome.attempts] == [status, 200]


async def test_retry_after_is_honoured(webapp: FakeWebApp) -> None:
    webapp.plan = [429]
    webapp.retry_after = "7"
    invalidator = client(webapp)
    assert (await send(invalidator)).success
    assert sleeps(invalidator) == [7.0]


async def test_a_2xx_without_the_json_body_counts_as_failed(webapp: FakeWebApp) -> None:
    webapp.plan = ["not-json"]
    outcome = await send(client(webapp))
    assert outcome.success and len(outcome.attempts) == 2
    assert outcome.attempts[0].error == "HTTP 200 without the expected JSON body"


async def test_connection_refused_is_retried_then_reported() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    invalidator = WebhookInvalidator(
        f"http://127.0.0.1:{port}{PATH}", KEY, timeout_seconds=5, sleep=RecordedSleeps()
    )
    outcome = await send(invalidator)
    assert not outcome.success and not outcome.permanent and len(outcome.attempts) == 3
    assert outcome.error is not None and outcome.error.startswith(
        f"cannot connect to http://127.0.0.1:{port}{PATH}"
    )


async def test_207_resends_only_the_failed_tags(webapp: FakeWebApp) -> None:
    webapp.broken = {"hall_of_fame": 1}
    outcome = await send(client(webapp))
    assert outcome.success
    assert webapp.tag_lists == [TAGS, ["hall_of_fame"]]
    assert [a.status_code for a in outcome.attempts] == [207, 200]
    assert outcome.tags == dict.fromkeys(TAGS, "invalidated")


async def test_207_that_persists_records_each_tag(webapp: FakeWebApp) -> None:
    webapp.broken = {"hall_of_fame": -1}
    outcome = await send(client(webapp))
    assert not outcome.success and not outcome.permanent
    assert webapp.tag_lists == [TAGS, ["hall_of_fame"], ["hall_of_fame"]]
    recorded = outcome.to_json()
    assert recorded["tags"] == {
        "season_stats": "invalidated",
        "half_season_stats": "invalidated",
        "hall_of_fame": "failed",
    }
    assert recorded["invalidated_tags"] == ["season_stats", "half_season_stats"]
    assert recorded["failed_tags"] == ["hall_of_fame"]
    assert recorded["error"] == "HTTP 207: Failed to invalidate 1 tags"


def test_no_url_means_no_client_and_the_key_is_required() -> None:
    assert build_invalidator(load_settings(env_file=None)) is None
    configured = load_settings(
        env_file=None, next_public_app_url="https://app.example.com/", internal_api_key=KEY
    )
    invalidator = build_invalidator(configured)
    assert invalidator is not None
    assert invalidator.url == "https://app.example.com/api/internal/cache/invalidate"
    assert KEY not in repr(invalidator)


# --- the stats job's use of it ---------------------------------------------------------

TEST_FUNCTIONS = (
    StatsFunction("t_ok", ("tag_ok1", "tag_ok2")),
    StatsFunction("t_fail", ("tag_fail",)),
    StatsFunction("t_after_fail", ("tag_after_fail",), depends_on=("t_fail",)),
    StatsFunction("t_ok_too", ("tag_ok3",)),
)


@pytest.fixture
async def pool(db_url: str) -> AsyncIterator[AsyncConnectionPool]:
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        for name in ("t_ok", "t_after_fail", "t_ok_too"):
            await conn.execute(
                f"CREATE FUNCTION {name}(uuid DEFAULT NULL) RETURNS jsonb "
                "LANGUAGE sql AS 'SELECT NULL::jsonb'".encode()
            )
        await conn.execute(
            "CREATE FUNCTION t_fail(uuid DEFAULT NULL) RETURNS jsonb LANGUAGE plpgsql "
            "AS $$ BEGIN RAISE EXCEPTION 'broken on purpose'; END $$"
        )
    async with AsyncConnectionPool(db_url, min_size=1, max_size=6, open=False) as p:
        yield p


async def claimed_job(pool: AsyncConnectionPool, trigger: str = "admin") -> queue.Job:
    async with pool.connection() as conn:
        await queue.enqueue(
            conn, payload={"triggeredBy": trigger, "requestId": "req-77"}, request_id="req-77"
        )
        [job] = await queue.claim(
            conn, worker_id="w", job_types=[queue.STATS_JOB_TYPE], lease_seconds=60
        )
    return job


def context(pool: AsyncConnectionPool) -> JobContext:
    return JobContext(pool, load_settings(env_file=None), "w", logging.getLogger("test"))


async def test_only_the_tags_of_successful_functions_are_sent(
    webapp: FakeWebApp, pool: AsyncConnectionPool
) -> None:
    handler = StatsUpdateHandler(StatsRunner(pool, functions=TEST_FUNCTIONS), client(webapp))
    outcome = await handler(await claimed_job(pool), context(pool))
    assert [r.body for r in webapp.received] == [
        {"tags": ["tag_ok1", "tag_ok2", "tag_ok3"], "source": "job-admin", "requestId": "req-77"}
    ]
    assert not outcome.ok and outcome.retryable
    assert outcome.error == "2/4 stats functions failed (t_fail, t_after_fail)"
    assert outcome.results["cache_invalidation_success"] is True
    assert outcome.results["cache_invalidation"]["tags"] == dict.fromkeys(
        ["tag_ok1", "tag_ok2", "tag_ok3"], "invalidated"
    )
    assert outcome.results["stats_attempt"] == 1 and outcome.results["stats_reused"] is False


async def test_a_failed_invalidation_fails_the_job_with_the_reference_message(
    webapp: FakeWebApp, pool: AsyncConnectionPool
) -> None:
    webapp.plan = [500, 500, 500]
    ok_only = (TEST_FUNCTIONS[0], TEST_FUNCTIONS[3])
    handler = StatsUpdateHandler(StatsRunner(pool, functions=ok_only), client(webapp))
    outcome = await handler(await claimed_job(pool, "cron"), context(pool))
    assert not outcome.ok and outcome.retryable
    assert outcome.error == "Cache invalidation failed: HTTP 500: boom 500"
    assert outcome.results["cache_invalidation_success"] is False
    assert outcome.results["cache_invalidation"]["failed_tags"] == ["tag_ok1", "tag_ok2", "tag_ok3"]
    assert webapp.received[0].body["source"] == "job-cron"


async def test_a_rejected_key_is_not_retried_automatically(
    webapp: FakeWebApp, pool: AsyncConnectionPool
) -> None:
    ok_only = (TEST_FUNCTIONS[0],)
    bad_key = client(webapp, key="nope")
    outcome = await StatsUpdateHandler(StatsRunner(pool, functions=ok_only), bad_key)(
        await claimed_job(pool), context(pool)
    )
    assert not outcome.ok and not outcome.retryable
    assert outcome.results["cache_invalidation"]["permanent"] is True


async def test_without_an_app_url_invalidation_is_skipped_and_said(
    pool: AsyncConnectionPool,
) -> None:
    ok_only = (TEST_FUNCTIONS[0],)
    outcome = await StatsUpdateHandler(StatsRunner(pool, functions=ok_only), None)(
        await claimed_job(pool), context(pool)
    )
    assert outcome.ok and outcome.error is None
    assert outcome.results["cache_invalidation"] == {"skipped": True, "reason": NOT_CONFIGURED}
    assert outcome.results["cache_invalidation_success"] is None


async def test_nothing_is_sent_when_no_function_succeeded(
    webapp: FakeWebApp, pool: AsyncConnectionPool
) -> None:
    only_failing = (TEST_FUNCTIONS[1],)
    outcome = await StatsUpdateHandler(StatsRunner(pool, functions=only_failing), client(webapp))(
        await claimed_job(pool), context(pool)
    )
    assert webapp.received == []
    assert outcome.results["cache_invalidation"]["reason"] == NOTHING_TO_INVALIDATE
    assert outcome.error == "1/1 stats functions failed (t_fail)"


# --- when a retry may reuse the stats ----------------------------------------------------


def previous_results(**changes: Any) -> dict[str, Any]:
    results: dict[str, Any] = {
        "tenant_id": DEFAULT_TENANT_ID,
        "cache_invalidation_success": False,
        "stats_attempt": 1,
        "function_results": [
            {"function": f.name, "status": "success", "duration": 5} for f in STATS_FUNCTIONS
        ],
    }
    results.update(changes)
    return results


def test_reuse_only_when_every_function_succeeded_and_invalidation_failed() -> None:
    def reusable(results: dict[str, Any] | None) -> bool:
        return reusable_stats(results, DEFAULT_TENANT_ID, STATS_FUNCTIONS) is not None

    assert reusable(previous_results())
    assert not reusable(None)
    assert not reusable({})
    assert not reusable(previous_results(cache_invalidation_success=True))
    assert not reusable(previous_results(cache_invalidation_success=None))  # skipped
    assert not reusable(previous_results(tenant_id="00000000-0000-0000-0000-000000000002"))
    one_failed = previous_results()
    one_failed["function_results"][3]["status"] = "failed"
    assert not reusable(one_failed)
    one_skipped = previous_results()
    one_skipped["function_results"][5]["status"] = "skipped"
    assert not reusable(one_skipped)
    one_missing = previous_results()
    one_missing["function_results"].pop()
    assert not reusable(one_missing)


# --- a job retried after its invalidation failed: the worker does not recompute -----------


def cache_snapshot(db_url: str) -> dict[str, Any]:
    """When each cache key was last written by a stats function (a recompute changes it)."""
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT cache_key, last_invalidated FROM cache_metadata").fetchall()
    return dict(rows)


@contextlib.asynccontextmanager
async def running_worker(settings: Settings) -> AsyncIterator[AsyncConnectionPool]:
    async with open_runtime(settings) as rt:
        stop = asyncio.Event()
        task = asyncio.create_task(build_worker(rt).run(stop))
        try:
            yield rt.pool
        finally:
            stop.set()
            await task


async def wait_for(pool: AsyncConnectionPool, job_id: str, *statuses: str) -> queue.Job:
    last = "unknown"
    for _ in range(1200):  # a deadline against hanging, not a timing assertion
        async with pool.connection() as conn:
            job = await queue.get_job(conn, job_id)
        assert job is not None
        if job.status in statuses:
            return job
        last = job.status
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} stayed {last}")


def count_stats_calls(db_url: str) -> Callable[[], dict[str, int]]:
    """Wrap every stats function so each call is recorded; return a reader of the counts.

    A call that fails is rolled back with its record, so the counts are the
    successful calls: the ones that rewrote aggregated tables.
    """
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE test_stats_calls (function text NOT NULL)")
        for fn in STATS_FUNCTIONS:
            returns = conn.execute(
                "SELECT pg_get_function_result(%s::regprocedure)", (f"{fn.name}(uuid)",)
            ).fetchone()
            assert returns is not None
            call = (
                f"PERFORM {fn.name}__counted(t); RETURN;"
                if returns[0] == "void"
                else f"RETURN {fn.name}__counted(t);"
            )
            conn.execute(f"ALTER FUNCTION {fn.name}(uuid) RENAME TO {fn.name}__counted".encode())
            conn.execute(
                f"""CREATE FUNCTION {fn.name}(t uuid)
                    RETURNS {returns[0]} LANGUAGE plpgsql AS $$
                    BEGIN
                        INSERT INTO test_stats_calls VALUES ('{fn.name}');
                        {call}
                    END $$""".encode()
            )

    def counts() -> dict[str, int]:
        with psycopg.connect(db_url) as conn:
            rows = conn.execute(
                "SELECT function, count(*) FROM test_stats_calls GROUP BY function"
            ).fetchall()
        return {str(name): int(n) for name, n in rows}

    return counts


ONCE_EACH = {f.name: 1 for f in STATS_FUNCTIONS}
TWICE_EACH = {f.name: 2 for f in STATS_FUNCTIONS}


def worker_settings(db_url: str, webapp: FakeWebApp) -> Settings:
    return load_settings(
        env_file=None,
        database_url=db_url,
        next_public_app_url=webapp.base_url,
        internal_api_key=KEY,
        cron_schedule="off",
        retry_backoff_seconds=0,
        poll_interval_ms=50,
        worker_id="retry-test-worker",
    )


async def enqueue_admin_job(pool: AsyncConnectionPool) -> str:
    async with pool.connection() as conn:
        body = {"triggeredBy": "admin", "requestId": "req-retry"}
        return (await queue.enqueue(conn, payload=body, request_id="req-retry")).job_id


async def test_automatic_retry_sends_only_the_failed_tags_and_keeps_the_stats(
    db_url: str, webapp: FakeWebApp
) -> None:
    await asyncio.to_thread(load_fixture, db_url, "tiny")
    stats_calls = count_stats_calls(db_url)
    snapshots: list[dict[str, Any]] = []
    webapp.on_request = lambda: snapshots.append(cache_snapshot(db_url))
    # hall_of_fame fails in all three requests of the first attempt, then works.
    webapp.broken = {"hall_of_fame": 3}
    async with running_worker(worker_settings(db_url, webapp)) as pool:
        job_id = await enqueue_admin_job(pool)
        job = await wait_for(pool, job_id, "completed", "failed")

    assert job.status == "completed" and job.attempts == 2
    assert stats_calls() == ONCE_EACH  # the stats ran once, in attempt 1
    assert cache_snapshot(db_url) == snapshots[0]  # and nothing rewrote the tables since
    assert len(snapshots[0]) == len(ALL_CACHE_TAGS)
    assert webapp.tag_lists == [
        list(ALL_CACHE_TAGS),
        ["hall_of_fame"],
        ["hall_of_fame"],
        ["hall_of_fame"],
    ]
    assert [e["error"] for e in job.attempt_errors] == [
        "Cache invalidation failed: HTTP 207: Failed to invalidate 1 tags"
    ]
    results = job.results
    assert results is not None
    assert results["attempt"] == 2 and results["stats_attempt"] == 1
    assert results["stats_reused"] is True and results["cache_invalidation_success"] is True
    assert results["successful_functions"] == results["total_functions"] == 10
    invalidation = results["cache_invalidation"]
    assert invalidation["tags"] == dict.fromkeys(ALL_CACHE_TAGS, "invalidated")
    assert sorted(invalidation["already_invalidated_tags"]) == sorted(
        t for t in ALL_CACHE_TAGS if t != "hall_of_fame"
    )


async def test_manual_retry_sends_only_the_invalidation(db_url: str, webapp: FakeWebApp) -> None:
    await asyncio.to_thread(load_fixture, db_url, "tiny")
    stats_calls = count_stats_calls(db_url)
    snapshots: list[dict[str, Any]] = []
    webapp.on_request = lambda: snapshots.append(cache_snapshot(db_url))
    webapp.plan = [401]  # the app rejects the key (say, mid-rotation): not retried by itself
    async with running_worker(worker_settings(db_url, webapp)) as pool:
        job_id = await enqueue_admin_job(pool)
        failed = await wait_for(pool, job_id, "completed", "failed")
        assert failed.status == "failed" and failed.attempts == 1
        assert failed.error_message == (
            "Cache invalidation failed: HTTP 401: Unauthorized - Invalid or missing API key"
        )
        async with pool.connection() as conn:
            assert await queue.retry(conn, job_id=job_id) is not None  # as `jobs retry` does
        job = await wait_for(pool, job_id, "completed", "failed")

    assert job.status == "completed" and job.retry_count == 1 and job.attempts == 2
    assert stats_calls() == ONCE_EACH
    assert cache_snapshot(db_url) == snapshots[0]
    assert webapp.tag_lists == [list(ALL_CACHE_TAGS), list(ALL_CACHE_TAGS)]
    assert job.results is not None
    assert job.results["stats_attempt"] == 1 and job.results["stats_reused"] is True
    assert job.results["cache_invalidation_success"] is True and job.error_message is None


async def test_a_retry_after_a_failed_function_recomputes_everything(
    db_url: str, webapp: FakeWebApp
) -> None:
    await asyncio.to_thread(load_fixture, db_url, "tiny")
    stats_calls = count_stats_calls(db_url)
    with psycopg.connect(db_url, autocommit=True) as conn:
        # update_power_ratings fails on its first call only (a sequence is not rolled back).
        conn.execute("CREATE SEQUENCE power_ratings_failures")
        conn.execute("ALTER FUNCTION update_power_ratings(uuid) RENAME TO power_ratings_once")
        conn.execute(
            b"""CREATE FUNCTION update_power_ratings(t uuid)
                RETURNS jsonb LANGUAGE plpgsql AS $$
                BEGIN
                    IF nextval('power_ratings_failures') = 1 THEN
                        RAISE EXCEPTION 'failing once on purpose';
                    END IF;
                    RETURN power_ratings_once(t);
                END $$"""
        )
    async with running_worker(worker_settings(db_url, webapp)) as pool:
        job_id = await enqueue_admin_job(pool)
        job = await wait_for(pool, job_id, "completed", "failed")
    assert job.status == "completed" and job.attempts == 2
    # Attempt 1 had a failed function: attempt 2 ran every function again.
    assert stats_calls() == {**TWICE_EACH, "update_power_ratings": 1}
    assert job.results is not None
    assert job.results["stats_attempt"] == 2 and job.results["stats_reused"] is False
    assert webapp.tag_lists[0] == [t for t in ALL_CACHE_TAGS if t != "player_power_rating"]
    assert webapp.tag_lists[1] == list(ALL_CACHE_TAGS)
