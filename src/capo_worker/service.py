"""Assembles a worker from the settings: handlers, periodic tasks, signals."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Iterable

from capo_worker.handlers import HandlerRegistry
from capo_worker.queue import STATS_JOB_TYPE
from capo_worker.runtime import Runtime
from capo_worker.stats.job import StatsUpdateHandler
from capo_worker.stats.runner import StatsRunner
from capo_worker.worker import PeriodicTask, Worker

log = logging.getLogger(__name__)


def build_registry(runtime: Runtime, handler_modules: Iterable[str] = ()) -> HandlerRegistry:
    settings = runtime.settings
    registry = HandlerRegistry()
    runner = StatsRunner(
        runtime.pool,
        parallelism=settings.stats_parallelism,
        statement_timeout_seconds=settings.stats_function_timeout_seconds,
    )
    registry.register(STATS_JOB_TYPE, StatsUpdateHandler(runner))
    for module in handler_modules:
        registry.load_module(module)
    return registry


def build_worker(runtime: Runtime, handler_modules: Iterable[str] = ()) -> Worker:
    periodic: list[PeriodicTask] = []
    return Worker(
        runtime.settings,
        runtime.pool,
        runtime.url,
        build_registry(runtime, handler_modules),
        periodic=periodic,
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
