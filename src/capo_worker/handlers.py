"""Job handlers by job_type, and how extra handlers are plugged in.

A handler is an async callable taking the claimed job and a context, and
returning a JobOutcome; raising counts as a failed attempt with the
exception's message. `stats_update` is built in (stats/job.py). Other job
types are added by modules named in JOB_HANDLER_MODULES or --handler-module:
each module defines `register(registry: HandlerRegistry) -> None`. The queue
benchmark's no-op job and the tests' recording job are registered this way,
only when asked for.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from psycopg_pool import AsyncConnectionPool

from capo_worker.config import Settings
from capo_worker.queue import Job


@dataclass
class JobOutcome:
    ok: bool
    results: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    retryable: bool = True


@dataclass
class JobContext:
    pool: AsyncConnectionPool
    settings: Settings
    worker_id: str
    log: logging.Logger
    lease_lost: asyncio.Event = field(default_factory=asyncio.Event)


Handler = Callable[[Job, JobContext], Awaitable[JobOutcome]]


class HandlerRegistry:
    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def register(self, job_type: str, handler: Handler) -> None:
        self._handlers[job_type] = handler

    def get(self, job_type: str) -> Handler | None:
        return self._handlers.get(job_type)

    @property
    def job_types(self) -> list[str]:
        return sorted(self._handlers)

    def load_module(self, module_name: str) -> None:
        """Import `module_name` and let it register its handlers."""
        module = importlib.import_module(module_name)
        register = getattr(module, "register", None)
        if not callable(register):
            raise ValueError(f"handler module {module_name} has no register(registry) function")
        register(self)
