"""`capo-worker stats run`: the worker's runner, with a live progress display."""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from capo_worker.cli.common import out, reading_runtime, run_async, settings_from_env
from capo_worker.config import Settings
from capo_worker.stats.registry import StatsFunction, select
from capo_worker.stats.runner import FunctionRun, StatsRunner
from capo_worker.tenants import resolve_tenant

_STYLE = {"success": "green", "failed": "red", "skipped": "yellow"}


class StatsRunUsageError(ValueError):
    """A bad --as-of or --only value."""


def _parse_as_of(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise StatsRunUsageError(f"--as-of {value!r} is not a date (YYYY-MM-DD)") from None


async def run_stats_command(
    settings: Settings,
    *,
    tenant: str | None,
    as_of: str | None,
    only: list[str] | None,
    sequential: bool,
    json_output: bool,
    console: Console,
) -> int:
    """Run the graph once; return 0 when every function succeeded, else 1."""
    as_of_date = _parse_as_of(as_of)
    try:
        chosen = select(only) if only else None
    except ValueError as exc:
        raise StatsRunUsageError(str(exc)) from None
    if as_of_date is not None:
        # There are no separate tables for another day: say so before overwriting.
        Console(stderr=True).print(
            f"[yellow]Warning:[/yellow] --as-of {as_of_date} writes the live tables. "
            f"/stats will show the league as of {as_of_date} (and say so) "
            "until stats run again without --as-of.",
            highlight=False,
        )
    # Read-only for the schema: it never migrates (behind: one line, exit 2).
    async with reading_runtime(settings) as rt:
        async with rt.pool.connection() as conn:
            tenant_id = await resolve_tenant(conn, tenant)
        runner = StatsRunner.from_settings(rt.pool, settings)
        progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
            disable=json_output or not sys.stderr.isatty(),
        )
        total = len(chosen) if chosen else len(runner.functions)
        task = progress.add_task("running stats functions", total=total)

        def on_progress(fn: StatsFunction, event: str, result: FunctionRun | None) -> None:
            if event == "started":
                progress.update(task, description=fn.name)
            else:
                progress.advance(task)

        with progress:
            report = await runner.run(
                tenant_id,
                as_of=as_of_date,
                only=chosen,
                sequential=sequential,
                on_progress=on_progress,
            )
    if json_output:
        sys.stdout.write(json.dumps(report.summary().to_json(), indent=2) + "\n")
    else:
        table = Table("function", "status", "ms", "details", title=f"tenant {tenant_id}")
        for r in report.results:
            detail = r.error or ""
            if r.details:
                detail = (detail + " " + json.dumps(r.details)).strip()
            table.add_row(
                r.function.name, Text(r.status, style=_STYLE[r.status]), str(r.duration_ms), detail
            )
        console.print(table)
        mode = "sequential" if sequential else f"graph, {settings.stats_parallelism} at a time"
        console.print(f"Total {report.duration_ms} ms ({mode}).")
    return 0 if report.ok else 1


def stats_run(
    tenant: Annotated[str | None, typer.Option(help="Tenant name or id.")] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            help="Compute as if today were this date (YYYY-MM-DD). Writes the live tables: "
            "/stats then shows the league as of that date."
        ),
    ] = None,
    only: Annotated[
        list[str] | None, typer.Option(help="Run only this function (repeatable).")
    ] = None,
    sequential: Annotated[
        bool, typer.Option("--sequential", help="One function at a time.")
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Run the stats functions now, through the runner the worker uses."""
    settings = settings_from_env()
    code = run_async(
        lambda: run_stats_command(
            settings,
            tenant=tenant,
            as_of=as_of,
            only=only,
            sequential=sequential,
            json_output=json_output,
            console=out,
        )
    )
    raise typer.Exit(code)
