"""/healthz, /readyz and /metrics."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from psycopg_pool import AsyncConnectionPool

from capo_worker import metrics
from capo_worker.schema_version import SCHEMA_VERSION
from capo_worker.web import create_app, health
from tests.support.db import execute
from tests.support.web import BASE_URL, app_client, insert_job, settings_for


def register_worker(db_url: str, seen_seconds_ago: int = 0) -> None:
    execute(
        db_url,
        """INSERT INTO capo_workers (worker_id, queue_name, hostname, pid, concurrency,
                                     last_seen_at)
           VALUES ('w1', 'stats-update-queue', 'host', 1, 1,
                   now() - make_interval(secs => %s))""",
        seen_seconds_ago,
    )


async def test_healthz(db_url: str) -> None:
    async with app_client(db_url) as client:
        response = await client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_ready_when_database_migrations_and_a_worker_are_there(db_url: str) -> None:
    register_worker(db_url)
    async with app_client(db_url) as client:
        response = await client.get("/readyz")
    assert response.status_code == 200
    data = response.json()
    assert data["status"] == "ready"
    assert {name: c["ok"] for name, c in data["checks"].items()} == {
        "database": True,
        "migrations": True,
        "worker": True,
    }


async def test_not_ready_without_a_recent_worker(db_url: str) -> None:
    async with app_client(db_url) as client:
        none = await client.get("/readyz")
        register_worker(db_url, seen_seconds_ago=3600)
        silent = await client.get("/readyz")
    for response in (none, silent):
        assert response.status_code == 503
        assert response.json()["status"] == "not ready"
        assert response.json()["checks"]["worker"]["ok"] is False
    assert "no running worker" in none.json()["checks"]["worker"]["detail"]


async def test_not_ready_with_a_pending_migration(db_url: str) -> None:
    register_worker(db_url)
    execute(db_url, "DELETE FROM capo_schema_migrations WHERE name = '0003_stats_outputs.sql'")
    async with app_client(db_url) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    migrations = response.json()["checks"]["migrations"]
    assert migrations["ok"] is False
    assert "0003_stats_outputs.sql (new)" in migrations["detail"]
    assert "run capo-worker migrate" in migrations["detail"]


async def test_not_ready_when_a_newer_build_migrated_the_database(db_url: str) -> None:
    register_worker(db_url)
    execute(db_url, "UPDATE capo_schema_version SET version = version + 1")
    async with app_client(db_url) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    detail = response.json()["checks"]["migrations"]["detail"]
    assert f"version {SCHEMA_VERSION + 1}" in detail and "does not claim jobs" in detail


@contextlib.asynccontextmanager
async def unreachable_database() -> AsyncIterator[httpx.AsyncClient]:
    """The app over a pool whose server refuses every connection."""
    url = "postgresql://capo@127.0.0.1:1/nothing?connect_timeout=1"
    pool = AsyncConnectionPool(url, min_size=1, max_size=2, timeout=1.0, open=False)
    await pool.open(wait=False)
    try:
        app = create_app(settings_for(url), pool)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=BASE_URL
        ) as client:
            yield client
    finally:
        await pool.close(timeout=1)


async def test_not_ready_and_metrics_still_answer_when_the_database_is_gone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(health, "PROBE_TIMEOUT_SECONDS", 0.5)
    async with unreachable_database() as client:
        ready = await client.get("/readyz")
        scrape = await client.get("/metrics")
        alive = await client.get("/healthz")
        jobs = await client.get("/api/admin/background-jobs")
        enqueue = await client.post(
            "/api/admin/enqueue-stats-job", json={"triggeredBy": "admin", "requestId": "r"}
        )
    assert jobs.status_code == 503
    assert jobs.json()["success"] is False
    assert jobs.json()["error"].startswith("Database unavailable")
    assert enqueue.status_code == 503  # unavailable, like every route; an insert error is 500
    assert enqueue.json()["message"] == "Failed to enqueue job"
    assert enqueue.json()["error"].startswith("Database unavailable")
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"]["ok"] is False
    assert scrape.status_code == 200
    assert sample(scrape.text, "capo_database_up") == 0
    assert alive.status_code == 200


def sample(text: str, name: str, **labels: str) -> float:
    label_text = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = "^" + re.escape(name + ("{" + label_text + "}" if labels else "")) + r" (\S+)$"
    found = re.search(pattern, text, re.MULTILINE)
    assert found, f"{name} {labels} not in /metrics"
    return float(found.group(1))


async def test_metrics_show_the_queue_and_this_process(db_url: str) -> None:
    insert_job(db_url, status="queued", age_seconds=90)
    insert_job(db_url, status="queued", age_seconds=10)
    insert_job(db_url, status="failed")
    register_worker(db_url, seen_seconds_ago=5)
    metrics.STATS_FUNCTION_DURATION.labels("update_power_ratings", "success").observe(0.2)
    async with app_client(db_url) as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    queue = "stats-update-queue"
    assert sample(text, "capo_jobs", queue=queue, status="queued") == 2
    assert sample(text, "capo_jobs", queue=queue, status="failed") == 1
    assert sample(text, "capo_jobs", queue=queue, status="completed") == 0
    assert sample(text, "capo_queue_depth", queue=queue) == 2
    assert 89 <= sample(text, "capo_queue_oldest_queued_age_seconds", queue=queue) < 600
    assert sample(text, "capo_worker_last_heartbeat_age_seconds") >= 5
    assert sample(text, "capo_database_up") == 1
    assert "# TYPE capo_job_duration_seconds histogram" in text
    assert "# TYPE capo_cache_invalidation_failures_total counter" in text
    assert (
        sample(
            text,
            "capo_stats_function_duration_seconds_count",
            function="update_power_ratings",
            status="success",
        )
        >= 1
    )
