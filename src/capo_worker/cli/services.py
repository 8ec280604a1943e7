"""The long-running commands: worker, run, web (service.run_service assembles them)."""

from __future__ import annotations

from typing import Annotated

import typer

from capo_worker.cli.common import run_async, settings_from_env
from capo_worker.service import run_service

HandlerModules = Annotated[
    list[str] | None,
    typer.Option(help="Import MODULE and register its extra job handlers (repeatable)."),
]


def worker(handler_module: HandlerModules = None) -> None:
    """Run the worker alone: claim and process jobs until SIGTERM or SIGINT."""
    settings = settings_from_env(service=True)
    run_async(
        lambda: run_service(settings, web=False, worker=True, handler_modules=handler_module or [])
    )


def run(handler_module: HandlerModules = None) -> None:
    """HTTP service and worker in one process, until SIGTERM or SIGINT."""
    settings = settings_from_env(service=True)
    run_async(
        lambda: run_service(settings, web=True, worker=True, handler_modules=handler_module or [])
    )


def web() -> None:
    """The HTTP service alone (API, admin page, league pages), until SIGTERM or SIGINT."""
    settings = settings_from_env(service=True)
    run_async(lambda: run_service(settings, web=True, worker=False))
