"""The one assembly of the long-running commands: database, worker, web app, signals.

`run_service` is `capo-worker worker`, `web`, `run` and `demo`: it opens the
database (waiting for it, migrating when the command may, runtime.py), builds
the worker (handlers and periodic tasks) and/or the HTTP service
(web/server.py), and runs them until SIGTERM or SIGINT.

Periodic tasks every worker runs besides the rescue of lost jobs: the cron
scheduler (cron.py) and the pruning of finished jobs older than
JOB_RETENTION_DAYS.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
from collections.abc import Awaitable, Callable, Iterable

from psycopg_pool import AsyncConnectionPool

from capo_worker import queue
from capo_worker.cache import build_invalidator
from capo_worker.config import Settings
from capo_worker.constants import STATS_JOB_TYPE
from capo_worker.cron import TICK_SECONDS, CronScheduler, catch_up_window, cron_enabled
from capo_worker.handlers import HandlerRegistry, module_registration
from capo_worker.runtime import Runtime, open_runtime
from capo_worker.schema_gate import SchemaGate
from capo_worker.stats.job import StatsUpdateHandler
from capo_worker.stats.runner import StatsRunner
from capo_worker.timestamps import iso_utc
from capo_worker.worker import PeriodicTask, Worker

log = logging.getLogger(__name__)


def build_registry(runtime: Runtime, handler_modules: Iterable[str] = ()) -> HandlerRegistry:
    settings = runtime.settings
    registry = HandlerRegistry()
    runner = StatsRunner.from_settings(runtime.pool, settings)
    registry.register(STATS_JOB_TYPE, StatsUpdateHandler(runner, build_invalidator(settings)))
    for module in handler_modules:
        registry.load_module(module)
    return registry


def prune_interval_seconds(retention_days: float) -> float:
    """A quarter of the retention period, between one minute and one hour."""
    return min(3600.0, max(60.0, retention_days * 86400 / 4))


def prune_task(settings: Settings, pool: AsyncConnectionPool) -> PeriodicTask:
    """Delete completed and failed jobs older than JOB_RETENTION_DAYS (never active ones)."""
    days = settings.job_retention_days

    async def run() -> None:
        async with pool.connection() as conn:
            deleted = await queue.prune(conn, older_than_days=days)
        if deleted:
            log.info("Pruned %d finished job(s) older than %g day(s)", deleted, days)

    return PeriodicTask("prune", prune_interval_seconds(days), run)


def cron_task(scheduler: CronScheduler) -> PeriodicTask:
    async def run() -> None:
        await scheduler.tick()

    return PeriodicTask("cron", TICK_SECONDS, run)


def _describe_services(settings: Settings, scheduler: CronScheduler | None) -> None:
    url = settings.invalidation_url
    if url:
        log.info("Cache invalidation: POST %s after each stats job", url)
    else:
        log.info(
            "Cache invalidation: skipped (set NEXT_PUBLIC_APP_URL or CACHE_INVALIDATION_URL "
            "to enable it)"
        )
    if scheduler is not None:
        log.info(
            "Cron: '%s' in %s, next slot %s (catch-up window %s)",
            settings.cron_schedule,
            settings.cron_timezone,
            iso_utc(scheduler.schedule.next_slot(scheduler.clock()), timespec="seconds"),
            catch_up_window(settings),
        )
    elif settings.cron_schedule.lower() == "off":
        log.info("Cron: off (CRON_SCHEDULE=off)")
    else:
        log.info("Cron: off (background jobs are off for cron: USE_BG_JOBS_CRON / _GLOBAL)")
    log.info("Retention: finished jobs are pruned after %g day(s)", settings.job_retention_days)


def build_worker(runtime: Runtime, handler_modules: Iterable[str] = ()) -> Worker:
    settings = runtime.settings
    periodic = [prune_task(settings, runtime.pool)]
    scheduler = None
    if cron_enabled(settings):
        scheduler = CronScheduler.from_settings(settings, runtime.pool)
        periodic.append(cron_task(scheduler))
    _describe_services(settings, scheduler)
    return Worker(
        runtime.settings,
        runtime.pool,
        runtime.url,
        build_registry(runtime, handler_modules),
        periodic=periodic,
        schema_gate=SchemaGate(),
    )


def stop_on_signals(stop: asyncio.Event) -> None:
    """SIGTERM / SIGINT set `stop`; a second signal is logged and ignored no more."""
    loop = asyncio.get_running_loop()

    def handle(sig: signal.Signals) -> None:
        if stop.is_set():
            log.warning("%s again: stopping now", sig.name)
            raise SystemExit(1)
        log.info("%s received: finishing running jobs, claiming no more", sig.name)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, handle, sig)


# Work done after the database is ready and before serving (the demo loads its league).
Prepare = Callable[[Runtime], Awaitable[None]]


async def run_service(
    settings: Settings,
    *,
    web: bool,
    worker: bool,
    handler_modules: Iterable[str] = (),
    prepare: Prepare | None = None,
    on_listening: Callable[[str], None] | None = None,
) -> None:
    """Open the database, then run the worker, the HTTP service or both until a signal.

    Only a command that runs a worker migrates (when MIGRATE_ON_START; else it
    waits for `capo-worker migrate`); `web` alone never migrates and says when
    the schema is not this build's (/readyz too).
    """
    # Imported here: a worker alone does not load the web stack.
    from capo_worker.web.security import check_listen_allowed
    from capo_worker.web.server import serve

    if web:
        check_listen_allowed(settings)  # before starting any database
    modules = [*settings.job_handler_modules, *handler_modules]
    for module in modules if worker else []:
        module_registration(module)  # a module that cannot be loaded stops start-up here
    async with open_runtime(
        settings,
        migrate=worker and settings.migrate_on_start,
        wait=True,
        if_behind="wait" if worker else "warn",
    ) as runtime:
        if prepare is not None:
            await prepare(runtime)
        stop = asyncio.Event()
        stop_on_signals(stop)
        make_worker = functools.partial(build_worker, handler_modules=modules)
        if web:
            await serve(
                runtime,
                stop,
                make_worker=make_worker if worker else None,
                on_listening=on_listening,
            )
        else:
            await make_worker(runtime).run(stop)
