"""What every command shares: settings and logging, output, the database for one-shot use."""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

from rich.console import Console

from capo_worker import event_loop
from capo_worker.config import Settings, load_settings
from capo_worker.logs import setup_logging
from capo_worker.runtime import Runtime, open_runtime

# Piped output is not cut to 80 columns: job ids and errors stay whole. What is
# printed is data (request ids, error messages): no markup and no :emoji: codes.
out = Console(width=None if sys.stdout.isatty() else 200, markup=False, emoji=False)
err = Console(stderr=True, markup=False, emoji=False)
T = TypeVar("T")


def settings_from_env(*, service: bool = False) -> Settings:
    """Load the settings and set up logging.

    One-shot commands log warnings only unless LOG_LEVEL is set; services
    (worker, web, run, demo) log at LOG_LEVEL (default INFO).
    """
    settings = load_settings()
    quiet = not service and "log_level" not in settings.model_fields_set
    setup_logging(
        "WARNING" if quiet else settings.log_level,
        settings.log_format,
        secrets=settings.secret_values(),
    )
    return settings


def run_async(make: Callable[[], Awaitable[T]]) -> T:
    return event_loop.run(make())  # type: ignore[arg-type]


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def say(line: str, *, console: Console = out) -> None:
    """One line as written: no markup, no highlighting, never wrapped."""
    console.print(line, markup=False, highlight=False, soft_wrap=True)


def reading_runtime(settings: Settings) -> AbstractAsyncContextManager[Runtime]:
    """Read-only commands never change the schema; behind, they stop with one line."""
    return open_runtime(settings, migrate=False, if_behind="fail")


def writing_runtime(settings: Settings) -> AbstractAsyncContextManager[Runtime]:
    """Commands that change data first migrate, when MIGRATE_ON_START is true."""
    return open_runtime(settings, migrate=settings.migrate_on_start, if_behind="fail")


def inspecting_runtime(settings: Settings) -> AbstractAsyncContextManager[Runtime]:
    """Commands about the schema itself (migrate, check-config, prepare-rollback): whatever
    state it is in, they open the database and neither migrate nor refuse."""
    return open_runtime(settings, migrate=False, if_behind="ignore")
