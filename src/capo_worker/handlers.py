"""Job handlers by job_type, and how extra job types are plugged in.

A handler is an async callable taking the claimed job and a context and
returning a JobOutcome; raising counts as a failed attempt with the
exception's message. `stats_update` is built in (stats/job.py). Other job
types are added by modules named in JOB_HANDLER_MODULES or --handler-module,
each defining `register(registry: HandlerRegistry) -> None`
(docs/operations.md, "Extra job types"). Workers claim only the job types
they have a handler for.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from psycopg_pool import AsyncConnectionPool

from capo_worker.config import ConfigError, Settings
from capo_worker.job_row import Job

__all__ = ["Handler", "HandlerRegistry", "Job", "JobContext", "JobOutcome"]


@dataclass
class JobOutcome:
    ok: bool
    results: dict[str, Any] = field(default_factory=dict)  # stored on the row as `results`
    error: str | None = None
    retryable: bool = True  # False: fail the job now, whatever attempts are left


@dataclass
class JobContext:
    pool: AsyncConnectionPool
    settings: Settings
    worker_id: str
    log: logging.Logger


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
        module_registration(module_name)(self)


def module_registration(module_name: str) -> Callable[[HandlerRegistry], None]:
    """The `register` function of a handler module; ConfigError naming the fix if there is none."""
    fix = (
        "Fix: name an importable module defining register(registry) in JOB_HANDLER_MODULES "
        "(or --handler-module), or remove it."
    )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"Configuration error: handler module {module_name!r} cannot be imported ({exc}). {fix}"
        ) from None
    register = getattr(module, "register", None)
    if not callable(register):
        raise ConfigError(
            f"Configuration error: handler module {module_name!r} has no register(registry) "
            f"function. {fix}"
        )
    return register  # type: ignore[no-any-return]
