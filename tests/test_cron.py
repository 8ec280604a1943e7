"""The cron scheduler: one job per slot however many workers run, catch-up at most once.

Most tests drive several schedulers against one database with an injected
clock, so nothing waits for a real slot. The last one runs three real worker
processes on a schedule with 10-second slots, and restarts one of them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from capo_worker import queue
from capo_worker.config import load_settings
from capo_worker.constants import DEFAULT_TENANT_ID
from capo_worker.cron import (
    CATCH_UP_LIMIT,
    CronSchedule,
    CronScheduler,
    catch_up_window,
    cron_enabled,
    cron_request_id,
)
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


# --- slots ----------------------------------------------------------------------------


def test_the_latest_slot_includes_the_exact_slot_time() -> None:
    assert NIGHTLY.latest_slot(at("2026-11-29T03:00:00")) == at("2026-11-29T03:00:00")
    assert NIGHTLY.latest_slot(at("2026-11-29T02:59:59")) == at("2026-11-28T03:00:00")
    assert NIGHTLY.next_slot(at("2026-11-29T03:00:00")) == at("2026-11-30T03:00:00")


def test_slots_follow_the_time_zone() -> None:
    london = CronSchedule("0 3 * * *", ZoneInfo("Europe/London"))
    assert london.latest_slot(at("2026-07-01T12:00:00")) == at("2026-07-01T02:00:00")  # BST
    assert london.latest_slot(at("2026-12-01T12:00:00")) == at("2026-12-01T03:00:00")  # GMT


def test_request_ids_name_the_slot_tenant_and_queue() -> None:
    slot = at("2026-11-29T03:00:00")
    assert cron_request_id(slot, DEFAULT_TENANT_ID, "stats-update-queue") == (
        "cron:2026-11-29T03:00:00Z"
    )
    other = "00000000-0000-0000-0000-0000000000aa"
    assert cron_request_id(slot, other, "q2") == f"cron:2026-11-29T03:00:00Z:{other}@q2"


def test_off_and_the_rollback_flag_disable_the_cron() -> None:
    assert cron_enabled(load_settings(env_file=None))
    assert not cron_enabled(load_settings(env_file=None, cron_schedule="off"))
    assert not cron_enabled(load_settings(env_file=None, cron_schedule="OFF"))
    assert not cron_enabled(load_settings(env_file=None, use_bg_jobs_cron=False))
    assert not cron_enabled(load_settings(env_file=None, use_bg_jobs_global=False))


def test_the_catch_up_window_is_an_hour_or_the_retention_if_shorter() -> None:
    assert catch_up_window(load_settings(env_file=None)) == CATCH_UP_LIMIT
    short = load_settings(env_file=None, job_retention_days=0.01)
    assert catch_up_window(short) == dt.timedelta(minutes=14.4)


# --- several schedulers, one database ---------------------------------------------------


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


async def cron_jobs(pool: AsyncConnectionPool) -> list[queue.Job]:
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


# --- real worker processes ----------------------------------------------------------------

EVERY_10_SECONDS = "* * * * * */10"  # croniter's optional sixth field is the second


def start_worker(db_url: str, name: str, log_dir: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "WORKER_ID": name,
        "CRON_SCHEDULE": EVERY_10_SECONDS,
        "CRON_TIMEZONE": "UTC",
        "POLL_INTERVAL_MS": "200",
        "LOG_LEVEL": "DEBUG",
        "SHUTDOWN_GRACE_SECONDS": "5",
    }
    for unset in ("NEXT_PUBLIC_APP_URL", "CACHE_INVALIDATION_URL"):
        env.pop(unset, None)
    log = (log_dir / f"{name}.log").open("ab")
    return subprocess.Popen(
        [str(Path(sys.executable).with_name("capo-worker")), "worker"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=log_dir,
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def query(db_url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(db_url) as conn:
        return conn.execute(sql.encode(), params).fetchall()


def wait_until(check: Any, what: str, deadline_seconds: float = 90) -> Any:
    """Poll `check` until it returns something truthy; a deadline only against hanging."""
    end = time.monotonic() + deadline_seconds
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"gave up waiting for {what}")


@pytest.fixture
def workers(db_url: str, tmp_path: Path) -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    procs: dict[str, subprocess.Popen[bytes]] = {}
    yield procs
    for proc in procs.values():
        stop(proc)


def slots_seen(db_url: str) -> dict[str, int]:
    rows = query(
        db_url,
        """SELECT job_payload ->> 'scheduledFor', count(*) FROM background_job_status
           WHERE job_payload ->> 'triggeredBy' = 'cron' GROUP BY 1""",
    )
    return {str(slot): int(n) for slot, n in rows}


def test_three_worker_processes_and_a_restart_give_one_job_per_slot(
    db_url: str, tmp_path: Path, workers: dict[str, subprocess.Popen[bytes]]
) -> None:
    for name in ("cron-w1", "cron-w2", "cron-w3"):
        workers[name] = start_worker(db_url, name, tmp_path)
    wait_until(
        lambda: (
            query(db_url, "SELECT count(*) FROM capo_workers WHERE stopped_at IS NULL")[0][0] == 3
        ),
        "three workers to start",
    )
    [(all_up,)] = query(db_url, "SELECT now()")

    def a_slot_after(moment: dt.datetime) -> str | None:
        later = [s for s in slots_seen(db_url) if dt.datetime.fromisoformat(s) > moment]
        return max(later) if later else None

    # A slot boundary passes while all three run.
    first = wait_until(lambda: a_slot_after(all_up), "a slot while all three run")

    # One worker stops; a slot passes without it; it comes back.
    stop(workers["cron-w1"])
    [(w1_down,)] = query(db_url, "SELECT now()")
    missed = wait_until(lambda: a_slot_after(w1_down), "a slot while w1 is down")
    workers["cron-w1"] = start_worker(db_url, "cron-w1", tmp_path)
    wait_until(
        lambda: b"Cron slot" in (tmp_path / "cron-w1.log").read_bytes().split(b"SIGTERM")[-1],
        "the restarted worker to look at the schedule",
    )

    seen = slots_seen(db_url)
    assert first in seen and missed in seen
    assert set(seen.values()) == {1}, seen  # never two jobs for one slot
    unique_keys = query(
        db_url,
        "SELECT unique_key, job_payload ->> 'requestId' FROM background_job_status "
        "WHERE job_payload ->> 'triggeredBy' = 'cron'",
    )
    assert all(key == request for key, request in unique_keys)
