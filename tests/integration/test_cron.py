"""The cron scheduler: one job per slot however many workers run, catch-up at most once.

Most tests drive several schedulers against one database with an injected
clock, so nothing waits for a real slot. The last one runs three real worker
processes on a schedule with 10-second slots, and restarts one of them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from zoneinfo import ZoneInfo

import pytest
from psycopg_pool import AsyncConnectionPool

from capo_worker import queue
from capo_worker.config import load_settings
from capo_worker.constants import DEFAULT_TENANT_ID
from capo_worker.cron import (
    CronSchedule,
    CronScheduler,
)
from capo_worker.job_row import Job
from capo_worker.runtime import open_runtime
from capo_worker.service import build_worker

NIGHTLY = CronSchedule("0 3 * * *", ZoneInfo("UTC"))


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


class Clock:
    """A clock the test moves by hand; every scheduler of a test shares it."""

    def __init__(self, start: str) -> None:
        self.now = at(start)

    def __call__(self) -> dt.datetime:
        return self.now

    def set(self, text: str) -> None:
        self.now = at(text)


@pytest.fixture
async def pools(db_url: str) -> AsyncIterator[list[AsyncConnectionPool]]:
    """One pool per simulated worker process."""
    opened = [AsyncConnectionPool(db_url, min_size=1, max_size=2, open=False) for _ in range(3)]
    for p in opened:
        await p.open()
    yield opened
    for p in opened:
        await p.close()


def schedulers(pools: list[AsyncConnectionPool], clock: Clock) -> list[CronScheduler]:
    return [CronScheduler(p, NIGHTLY, clock=clock) for p in pools]


async def tick_all(group: list[CronScheduler]) -> None:
    await asyncio.gather(*(s.tick() for s in group))


async def cron_jobs(pool: AsyncConnectionPool) -> list[Job]:
    async with pool.connection() as conn:
        return list(reversed(await queue.list_jobs(conn, trigger="cron", limit=100)))


async def finish_all(pool: AsyncConnectionPool) -> None:
    async with pool.connection() as conn:
        await conn.execute(
            "UPDATE background_job_status SET status = 'completed', completed_at = now()"
        )


async def test_three_workers_over_a_slot_boundary_enqueue_one_job(
    pools: list[AsyncConnectionPool],
) -> None:
    clock = Clock("2026-11-29T02:59:50")
    group = schedulers(pools, clock)
    await tick_all(group)
    assert await cron_jobs(pools[0]) == []  # yesterday's slot is long past

    clock.set("2026-11-29T03:00:02")
    for _ in range(3):
        await tick_all(group)
        clock.now += dt.timedelta(seconds=5)
    [job] = await cron_jobs(pools[0])
    assert job.job_payload == {
        "triggeredBy": "cron",
        "requestId": "cron:2026-11-29T03:00:00Z",
        "timestamp": "2026-11-29T03:00:02.000Z",
        "scheduledFor": "2026-11-29T03:00:00Z",
    }
    assert job.priority == 1 and job.tenant_id == DEFAULT_TENANT_ID and job.status == "queued"

    # The job runs and finishes; a restarted worker (a new scheduler, no memory)
    # still finds the slot served.
    await finish_all(pools[0])
    clock.set("2026-11-29T03:00:40")
    await tick_all(schedulers(pools, clock))
    assert [j.id for j in await cron_jobs(pools[0])] == [job.id]

    # The next night gets its own job.
    clock.set("2026-11-30T03:00:01")
    await tick_all(group)
    jobs = await cron_jobs(pools[0])
    assert [j.job_payload["scheduledFor"] for j in jobs] == [
        "2026-11-29T03:00:00Z",
        "2026-11-30T03:00:00Z",
    ]


async def test_workers_down_at_the_slot_catch_up_once(pools: list[AsyncConnectionPool]) -> None:
    clock = Clock("2026-11-29T03:40:00")  # every worker was down at 03:00
    await tick_all(schedulers(pools, clock))
    [job] = await cron_jobs(pools[0])
    assert job.job_payload["scheduledFor"] == "2026-11-29T03:00:00Z"
    assert job.job_payload["timestamp"] == "2026-11-29T03:40:00.000Z"
    await finish_all(pools[0])
    for restart_at in ("2026-11-29T03:50:00", "2026-11-29T03:59:59"):
        clock.set(restart_at)
        await tick_all(schedulers(pools, clock))
    assert len(await cron_jobs(pools[0])) == 1


async def test_a_slot_missed_by_more_than_the_window_is_skipped(
    pools: list[AsyncConnectionPool],
) -> None:
    clock = Clock("2026-11-29T04:00:01")
    group = schedulers(pools, clock)
    await tick_all(group)
    assert await cron_jobs(pools[0]) == []
    clock.set("2026-11-30T03:00:03")
    await tick_all(group)
    assert [j.job_payload["scheduledFor"] for j in await cron_jobs(pools[0])] == [
        "2026-11-30T03:00:00Z"
    ]


async def test_each_tenant_gets_its_own_job_per_slot(pools: list[AsyncConnectionPool]) -> None:
    async with pools[0].connection() as conn:
        cur = await conn.execute(
            "INSERT INTO tenants (name) VALUES ('second club') RETURNING tenant_id::text"
        )
        row = await cur.fetchone()
        assert row is not None
        second = str(row[0])
    clock = Clock("2026-11-29T03:00:05")
    await tick_all(schedulers(pools, clock))
    jobs = await cron_jobs(pools[0])
    assert sorted(str(j.tenant_id) for j in jobs) == sorted([DEFAULT_TENANT_ID, second])
    by_tenant = {j.tenant_id: j.job_payload for j in jobs}
    assert by_tenant[second]["requestId"] == f"cron:2026-11-29T03:00:00Z:{second}"
    assert by_tenant[second]["tenantId"] == second


async def test_a_cron_request_joins_a_queued_job_of_its_tenant(
    pools: list[AsyncConnectionPool],
) -> None:
    async with pools[0].connection() as conn:
        admin = await queue.enqueue(
            conn, payload={"triggeredBy": "admin", "requestId": "a-1"}, request_id="a-1"
        )
    await tick_all(schedulers(pools, Clock("2026-11-29T03:00:05")))
    async with pools[0].connection() as conn:
        jobs = await queue.list_jobs(conn)
    assert [j.id for j in jobs] == [admin.job_id]
    assert jobs[0].job_payload["coalescedRequestIds"] == ["cron:2026-11-29T03:00:00Z"]
    assert jobs[0].job_payload["coalescedCount"] == 1


async def test_the_worker_runs_the_cron_only_when_enabled(db_url: str) -> None:
    for schedule, expected in (("0 3 * * *", True), ("off", False)):
        settings = load_settings(env_file=None, database_url=db_url, cron_schedule=schedule)
        async with open_runtime(settings) as rt:
            names = [p.name for p in build_worker(rt).periodic]
        assert ("cron" in names) is expected
        assert "prune" in names and "rescue" in names
