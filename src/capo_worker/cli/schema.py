"""The database's schema and configuration: migrate, check-config, prepare-rollback."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer
from rich.table import Table

from capo_worker.cli.common import (
    err,
    inspecting_runtime,
    out,
    run_async,
    say,
    settings_from_env,
)
from capo_worker.migrate import AppliedStep, applied_files, schema_status
from capo_worker.migrate import migrate as migrate_database
from capo_worker.rollback import RollbackReport
from capo_worker.rollback import prepare_rollback as prepare


def migrate(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be applied; change nothing.")
    ] = False,
) -> None:
    """Bring the database schema to this build's: each file applied is printed."""
    settings = settings_from_env()

    def applied(step: AppliedStep) -> None:
        say(f"applied {step.name} ({step.reason}, {step.duration_ms} ms)")

    async def go() -> int:
        async with inspecting_runtime(settings) as rt:
            where = rt.database.describe()
            report = await migrate_database(rt.url, dry_run=dry_run, on_applied=applied)
            async with rt.pool.connection() as conn:
                recorded = await applied_files(conn)
        before = report.before
        if report.refused:
            say(before.describe() + ".", console=err)
            return 1
        if dry_run:
            for step in before.steps:
                say(f"would apply {step.name} ({step.reason})")
            say(f"{before.describe()}. Dry run: nothing was changed ({where}).")
            return 0
        if report.analyzed:
            say(f"analyzed {len(report.analyzed)} table(s): {', '.join(report.analyzed)}")
        version = f"schema version {report.version_after}"
        if report.applied:
            say(f"Database is at {version} ({where}).")
            return 0
        say(f"Database schema is current: {version} ({where}). Nothing to apply.")
        say(f"{len(recorded)} file(s) applied earlier:")
        for f in recorded:
            say(f"  {f.name}  {f.applied_at.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC")
        return 0

    raise typer.Exit(run_async(go))


def check_config() -> None:
    """Validate the configuration, show it (secrets hidden) and test the database."""
    settings = settings_from_env()
    table = Table("variable", "value", title="capo-worker configuration")
    for name, value in settings.redacted().items():
        table.add_row(name.upper(), value)
    out.print(table)

    async def go() -> None:
        async with inspecting_runtime(settings) as rt:
            async with rt.pool.connection() as conn:
                status = await schema_status(conn)
            say(f"Database: reachable ({rt.database.describe()})")
            say(status.describe() + ".")

    run_async(go)


def prepare_rollback(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check and show what would change; change nothing.")
    ] = False,
) -> None:
    """Prepare the database for going back to the Node worker (docs/operations.md)."""
    from capo_worker.web.health import heartbeat_limit_seconds

    settings = settings_from_env()

    async def go() -> RollbackReport:
        async with inspecting_runtime(settings) as rt, rt.pool.connection() as conn:
            return await prepare(
                conn,
                lease_seconds=settings.job_lease_seconds,
                heartbeat_limit_seconds=heartbeat_limit_seconds(settings.job_lease_seconds),
                dry_run=dry_run,
            )

    report = run_async(go)
    if report.requeued_jobs:
        say(f"Put {report.requeued_jobs} job(s) of stopped workers back in the queue.")
    verb = "Would add" if dry_run else "Added"
    if report.created:
        keys = ", ".join(report.created)
        say(f"{verb} the single-club keys the app's functions upsert on: {keys}.")
    else:
        say("The single-club keys the app's functions upsert on are already there.")
    if not dry_run:
        say(
            "Next: re-run the app's SQL function definitions, then start the Node worker "
            '(docs/operations.md, "Going back to the Node worker").'
        )
