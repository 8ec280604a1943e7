"""The nightly cron: every worker runs the scheduler; each slot yields one job per tenant.

CRON_SCHEDULE is a cron expression (default `0 3 * * *`) read in
CRON_TIMEZONE (default UTC); `off` disables it, and so does turning
background jobs off for cron (USE_BG_JOBS_CRON=false, the rollback path where
the web app's own cron runs the stats).

Every few seconds each worker works out the most recent slot of the schedule
and, if it has not done so yet, enqueues that slot's job for every tenant. The
request id names the slot (`cron:2026-11-29T03:00:00Z`, plus `:<tenant>` for
tenants other than the default one and `@<queue>` for queues other than the
default one) and doubles as the job's unique key, so however many workers
race for a slot, and however often they restart, the slot gets one job.

Catch-up: a slot is enqueued only while it is recent, i.e. within
`catch_up_window()` of its time (one hour, or JOB_RETENTION_DAYS if that is
shorter, so a pruned cron job can never make its slot look new). Workers that
were all down at 03:00 and come back at 03:40 run the 03:00 job once; workers
that come back at 05:00 skip it, log that it was missed, and wait for the next
slot.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from croniter import croniter
from psycopg_pool import AsyncConnectionPool

from capo_worker import queue
from capo_worker.config import Settings
from capo_worker.constants import DEFAULT_MAX_ATTEMPTS, DEFAULT_QUEUE_NAME, DEFAULT_TENANT_ID
from capo_worker.stats.requests import StatsRequest, enqueue_stats
from capo_worker.tenants import tenant_ids
from capo_worker.timestamps import iso_utc

log = logging.getLogger(__name__)

CATCH_UP_LIMIT = dt.timedelta(hours=1)
TICK_SECONDS = 5.0  # how often each worker looks at the clock
Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def slot_text(slot: dt.datetime) -> str:
    """A slot as request ids and logs name it: 2026-11-29T03:00:00Z."""
    return iso_utc(slot, timespec="seconds")


@dataclass(frozen=True)
class CronSchedule:
    expression: str
    timezone: ZoneInfo

    def latest_slot(self, now: dt.datetime) -> dt.datetime:
        """The most recent slot at or before `now`, in UTC."""
        local = now.astimezone(self.timezone) + dt.timedelta(microseconds=1)
        slot: dt.datetime = croniter(self.expression, local).get_prev(dt.datetime)
        return slot.astimezone(dt.UTC)

    def next_slot(self, now: dt.datetime) -> dt.datetime:
        """The first slot after `now`, in UTC."""
        slot: dt.datetime = croniter(self.expression, now.astimezone(self.timezone)).get_next(
            dt.datetime
        )
        return slot.astimezone(dt.UTC)


def cron_request_id(slot: dt.datetime, tenant_id: str, queue_name: str) -> str:
    """The slot's request id and unique key: the same in every worker."""
    key = f"cron:{slot_text(slot)}"
    if tenant_id != DEFAULT_TENANT_ID:
        key += f":{tenant_id}"
    if queue_name != DEFAULT_QUEUE_NAME:
        key += f"@{queue_name}"
    return key


def catch_up_window(settings: Settings) -> dt.timedelta:
    return min(CATCH_UP_LIMIT, dt.timedelta(days=settings.job_retention_days))


def cron_enabled(settings: Settings) -> bool:
    return settings.cron_schedule.lower() != "off" and settings.background_jobs_enabled("cron")


class CronScheduler:
    """Enqueues the cron job of each slot; `tick` is safe to call from any number of workers."""

    def __init__(
        self,
        pool: AsyncConnectionPool,
        schedule: CronSchedule,
        *,
        queue_name: str = DEFAULT_QUEUE_NAME,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        catch_up: dt.timedelta = CATCH_UP_LIMIT,
        clock: Clock = utc_now,
    ) -> None:
        self.pool = pool
        self.schedule = schedule
        self.queue_name = queue_name
        self.max_attempts = max_attempts
        self.catch_up = catch_up
        self.clock = clock
        self._handled: dt.datetime | None = None  # the last slot this process dealt with

    @classmethod
    def from_settings(
        cls, settings: Settings, pool: AsyncConnectionPool, *, clock: Clock = utc_now
    ) -> CronScheduler:
        return cls(
            pool,
            CronSchedule(settings.cron_schedule, ZoneInfo(settings.cron_timezone)),
            queue_name=settings.queue_name,
            max_attempts=settings.max_attempts,
            catch_up=catch_up_window(settings),
            clock=clock,
        )

    async def tick(self) -> list[queue.EnqueueResult]:
        """Enqueue the most recent slot's jobs unless done or too old; return what enqueue said."""
        now = self.clock()
        slot = self.schedule.latest_slot(now)
        if slot == self._handled:
            return []
        if now - slot > self.catch_up:
            if self._handled is None or self._handled < slot:
                log.info(
                    "Cron slot %s was not enqueued within %s of its time (no worker was "
                    "running); skipping it. Next slot: %s",
                    slot_text(slot),
                    self.catch_up,
                    slot_text(self.schedule.next_slot(now)),
                )
            self._handled = slot
            return []
        results = []
        async with self.pool.connection() as conn:
            for tenant_id in await tenant_ids(conn):
                results.append(await self._enqueue(conn, slot, tenant_id, now))
        self._handled = slot
        return results

    async def _enqueue(
        self, conn: queue.Conn, slot: dt.datetime, tenant_id: str, now: dt.datetime
    ) -> queue.EnqueueResult:
        request = StatsRequest.new(
            "cron",
            request_id=cron_request_id(slot, tenant_id, self.queue_name),
            tenant_id=tenant_id if tenant_id != DEFAULT_TENANT_ID else None,
            at=now,
            scheduledFor=slot_text(slot),
        )
        # The request id doubles as the unique key: one job per slot and tenant.
        result = await enqueue_stats(conn, request, tenant_id, self, unique_key=request.request_id)
        if result.deduplicated:
            log.debug("Cron slot %s already served by job %s", slot_text(slot), result.job_id)
        else:
            log.info(
                "Cron slot %s: enqueued job %s for tenant %s",
                slot_text(slot),
                result.job_id,
                tenant_id,
                extra={"job_id": result.job_id},
            )
        return result
