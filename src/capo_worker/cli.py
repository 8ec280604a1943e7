"""The `capo-worker` command. Tables for people, --json for scripts.

Configuration mistakes and unreachable databases end the command with one
line on stderr (exit status 2), never a traceback.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from capo_worker import queue
from capo_worker.config import ConfigError, Settings, load_settings
from capo_worker.league.model import League, LeagueFileError
from capo_worker.logs import setup_logging
from capo_worker.migrate import MigrationError
from capo_worker.rollback import RollbackRefusedError
from capo_worker.runtime import (
    DatabaseUnavailableError,
    Runtime,
    SchemaBehindError,
    open_runtime,
)
from capo_worker.stats.cli_run import StatsRunUsageError
from capo_worker.tenants import UnknownTenantError
from capo_worker.timestamps import iso_utc_ms

if TYPE_CHECKING:
    from capo_worker.league.importer import ImportSummary
    from capo_worker.rollback import RollbackReport

app = typer.Typer(
    help="Keeps a football league's statistics current: job queue, worker, stats, admin page.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
jobs_app = typer.Typer(help="List, inspect, retry and prune jobs.", no_args_is_help=True)
league_app = typer.Typer(help="Import or generate league data.", no_args_is_help=True)
stats_app = typer.Typer(help="Run the stats functions directly.", no_args_is_help=True)
app.add_typer(jobs_app, name="jobs")
app.add_typer(league_app, name="league")
app.add_typer(stats_app, name="stats")

# Piped output is not cut to 80 columns: job ids and errors stay whole. What is
# printed is data (request ids, error messages): no markup and no :emoji: codes.
out = Console(width=None if sys.stdout.isatty() else 200, markup=False, emoji=False)
err = Console(stderr=True, markup=False, emoji=False)
T = TypeVar("T")

# Errors that end a command with a one-line message instead of a traceback.
USER_ERRORS = (
    ConfigError,
    DatabaseUnavailableError,
    LeagueFileError,
    UnknownTenantError,
    StatsRunUsageError,
    SchemaBehindError,
    MigrationError,
    RollbackRefusedError,
)


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
    return asyncio.run(make())  # type: ignore[arg-type]


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def reading_runtime(settings: Settings) -> AbstractAsyncContextManager[Runtime]:
    """Read-only commands never change the schema; behind, they stop with one line."""
    return open_runtime(settings, migrate=False, if_behind="fail")


def writing_runtime(settings: Settings) -> AbstractAsyncContextManager[Runtime]:
    """Commands that change data first migrate, when MIGRATE_ON_START is true."""
    return open_runtime(settings, migrate=settings.migrate_on_start, if_behind="fail")


def _say(line: str, *, console: Console = out) -> None:
    """One line as written: no markup, no highlighting, never wrapped."""
    console.print(line, markup=False, highlight=False, soft_wrap=True)


# --- database and worker --------------------------------------------------------

HandlerModules = Annotated[
    list[str] | None,
    typer.Option(help="Import MODULE and register its extra job handlers (repeatable)."),
]


@app.command()
def migrate(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be applied; change nothing.")
    ] = False,
) -> None:
    """Bring the database schema to this build's: each file applied is printed."""
    from capo_worker.migrate import AppliedStep
    from capo_worker.migrate import migrate as migrate_database

    settings = settings_from_env()

    def applied(step: AppliedStep) -> None:
        _say(f"applied {step.name} ({step.reason}, {step.duration_ms} ms)")

    async def go() -> int:
        async with open_runtime(settings, migrate=False, if_behind="ignore") as rt:
            where = rt.database.describe()
            report = await migrate_database(rt.url, dry_run=dry_run, on_applied=applied)
        before = report.before
        if report.refused:
            _say(before.describe() + ".", console=err)
            return 1
        if dry_run:
            for step in before.steps:
                _say(f"would apply {step.name} ({step.reason})")
            _say(f"{before.describe()}. Dry run: nothing was changed ({where}).")
            return 0
        if report.analyzed:
            _say(f"analyzed {len(report.analyzed)} table(s): {', '.join(report.analyzed)}")
        version = f"schema version {report.version_after}"
        if report.applied:
            _say(f"Database is at {version} ({where}).")
        else:
            _say(f"Database schema is current: {version} ({where}).")
        return 0

    raise typer.Exit(run_async(go))


@app.command()
def worker(
    handler_module: HandlerModules = None,
) -> None:
    """Run the worker alone: claim and process jobs until SIGTERM or SIGINT."""
    from capo_worker.service import build_worker, stop_on_signals

    settings = settings_from_env(service=True)
    modules = [*settings.job_handler_modules, *(handler_module or [])]

    async def go() -> None:
        async with open_runtime(
            settings, migrate=settings.migrate_on_start, wait=True, if_behind="wait"
        ) as rt:
            stop = asyncio.Event()
            stop_on_signals(stop)
            await build_worker(rt, modules).run(stop)

    run_async(go)


@app.command()
def run(
    handler_module: HandlerModules = None,
) -> None:
    """HTTP service and worker in one process, until SIGTERM or SIGINT."""
    from capo_worker.web.server import run_service

    settings = settings_from_env(service=True)
    modules = [*settings.job_handler_modules, *(handler_module or [])]
    run_async(lambda: run_service(settings, with_worker=True, handler_modules=modules))


@app.command()
def web() -> None:
    """The HTTP service alone (API, admin page, league pages), until SIGTERM or SIGINT."""
    from capo_worker.web.server import run_service

    settings = settings_from_env(service=True)
    run_async(lambda: run_service(settings, with_worker=False))


@app.command()
def demo() -> None:
    """Embedded PostgreSQL, a demo league, an admin job, worker and web; prints the address."""
    from capo_worker.web.demo import run_demo

    settings = settings_from_env(service=True)
    run_async(lambda: run_demo(settings, lambda line: out.print(line, markup=False)))


@app.command("check-config")
def check_config() -> None:
    """Validate the configuration, show it (secrets hidden) and test the database."""
    settings = settings_from_env()
    table = Table("variable", "value", title="capo-worker configuration")
    for name, value in settings.redacted().items():
        table.add_row(name.upper(), value)
    out.print(table)

    async def go() -> None:
        from capo_worker.migrate import schema_status

        async with open_runtime(settings, migrate=False, if_behind="ignore") as rt:
            async with rt.pool.connection() as conn:
                status = await schema_status(conn)
            _say(f"Database: reachable ({rt.database.describe()})")
            _say(status.describe() + ".")

    run_async(go)


# --- jobs ---------------------------------------------------------------------------


@app.command()
def enqueue(
    trigger: Annotated[str, typer.Option(help="post-match, admin or cron.")],
    match_id: Annotated[int | None, typer.Option(help="The match that triggered it.")] = None,
    request_id: Annotated[
        str | None, typer.Option(help="Idempotency key; the same id returns the same job.")
    ] = None,
    tenant: Annotated[str | None, typer.Option(help="Tenant name or id.")] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Follow the job; exit 0 completed, 1 failed.")
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Enqueue a stats update and print the job id."""
    if trigger not in queue.TRIGGERS:
        raise typer.BadParameter(
            f"unknown trigger {trigger!r}; use one of {', '.join(queue.TRIGGERS)}",
            param_hint="--trigger",
        )
    settings = settings_from_env()
    request = request_id or str(uuid.uuid4())
    payload: dict[str, Any] = {
        "triggeredBy": trigger,
        "requestId": request,
        "timestamp": iso_utc_ms(),
        "userId": "cli",
    }
    if match_id is not None:
        payload["matchId"] = match_id

    async def go() -> int:
        from capo_worker.tenants import resolve_tenant

        async with writing_runtime(settings) as rt:
            async with rt.pool.connection() as conn:
                tenant_id = await resolve_tenant(conn, tenant)
                if tenant:
                    payload["tenantId"] = tenant_id
                result = await queue.enqueue(
                    conn,
                    payload=payload,
                    request_id=request,
                    tenant_id=tenant_id,
                    priority=queue.priority_for(trigger),
                    queue_name=settings.queue_name,
                    max_attempts=settings.max_attempts,
                )
            if json_output and not wait:
                _print_json({"jobId": result.job_id, "deduplicated": result.deduplicated})
            elif not json_output:
                note = " (joined an existing job)" if result.deduplicated else ""
                out.print(f"{result.job_id}{note}")
            if not wait:
                return 0
            job = await _follow(rt.pool, result.job_id, quiet=json_output)
            if json_output:
                _print_json(job.to_dict())
            return 0 if job.status == "completed" else 1

    raise typer.Exit(run_async(go))


async def _follow(pool: Any, job_id: str, *, quiet: bool) -> queue.Job:
    last = None
    while True:
        async with pool.connection() as conn:
            job = await queue.get_job(conn, job_id)
        if job is None:
            raise typer.Exit(1)
        if job.status != last and not quiet:
            err.print(f"job {job_id}: {job.status}")
            last = job.status
        if job.status in ("completed", "failed"):
            return job
        await asyncio.sleep(0.5)


def _fmt_time(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S") if value else "-"


@jobs_app.command("list")
def jobs_list(
    status: Annotated[
        str | None, typer.Option(help="queued, processing, completed, failed")
    ] = None,
    trigger: Annotated[str | None, typer.Option(help="post-match, admin or cron")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Newest jobs first."""
    if status is not None and status not in queue.STATUSES:
        raise typer.BadParameter(f"use one of {', '.join(queue.STATUSES)}", param_hint="--status")
    settings = settings_from_env()

    async def go() -> list[queue.Job]:
        async with reading_runtime(settings) as rt, rt.pool.connection() as conn:
            return await queue.list_jobs(conn, status=status, trigger=trigger, limit=limit)

    jobs = run_async(go)
    if json_output:
        _print_json([j.to_dict() for j in jobs])
        return
    if not jobs:
        out.print("No background jobs found.")
        return
    table = Table("id", "trigger", "status", "created", "duration", "attempts", "error")
    table.columns[0].no_wrap = True
    table.columns[3].no_wrap = True
    for j in jobs:
        duration = f"{j.duration_ms / 1000:.1f}s" if j.duration_ms is not None else "-"
        table.add_row(
            j.id,
            j.trigger or "-",
            j.status,
            _fmt_time(j.created_at),
            duration,
            f"{j.attempts}/{j.max_attempts}",
            (j.error_message or "")[:60],
        )
    out.print(table)


@jobs_app.command("show")
def jobs_show(
    job_id: str,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """One job with its results and the error of every attempt."""
    settings = settings_from_env()
    _check_uuid(job_id)

    async def go() -> queue.Job | None:
        async with reading_runtime(settings) as rt, rt.pool.connection() as conn:
            return await queue.get_job(conn, job_id)

    job = run_async(go)
    if job is None:
        err.print(f"No job {job_id}.")
        raise typer.Exit(1)
    if json_output:
        _print_json(job.to_dict())
        return
    table = Table("field", "value", show_header=False)
    for key, value in job.to_dict().items():
        if key in ("results", "attempt_errors", "job_payload"):
            continue
        table.add_row(key, "-" if value is None else str(value))
    out.print(table)
    out.print("payload:", json.dumps(job.job_payload))
    for attempt in job.attempt_errors:
        out.print(
            f"attempt {attempt.get('attempt')}: {attempt.get('error')} "
            f"({attempt.get('worker')}, {attempt.get('at')})"
        )
    for fn in (job.results or {}).get("function_results", []):
        line = f"  {fn.get('function')}: {fn.get('status')} in {fn.get('duration')} ms"
        out.print(line + (f" - {fn['error']}" if fn.get("error") else ""))


def _check_uuid(job_id: str) -> None:
    try:
        uuid.UUID(job_id)
    except ValueError:
        raise typer.BadParameter(f"{job_id!r} is not a job id (a UUID)") from None


@jobs_app.command("retry")
def jobs_retry(job_id: str) -> None:
    """Queue a failed job again (retry_count + 1); its history is kept."""
    settings = settings_from_env()
    _check_uuid(job_id)

    async def go() -> tuple[queue.Job | None, queue.Job | None]:
        async with writing_runtime(settings) as rt, rt.pool.connection() as conn:
            retried = await queue.retry(conn, job_id=job_id, extra_attempts=settings.max_attempts)
            return retried, None if retried else await queue.get_job(conn, job_id)

    retried, current = run_async(go)
    if retried is not None:
        out.print(f"Job {job_id} queued again (retry {retried.retry_count}).")
        return
    if current is None:
        err.print(f"No job {job_id}.")
    else:
        err.print(f"Job {job_id} is {current.status}; only failed jobs can be retried.")
    raise typer.Exit(1)


@jobs_app.command("prune")
def jobs_prune(
    older_than_days: Annotated[
        float | None,
        typer.Option(min=0, help="Age limit in days (default JOB_RETENTION_DAYS)."),
    ] = None,
    include_legacy: Annotated[
        bool,
        typer.Option(
            "--include-legacy",
            help="Also delete jobs the Node worker finished before capo-worker took over.",
        ),
    ] = False,
) -> None:
    """Delete completed and failed jobs older than N days (never queued or running ones)."""
    settings = settings_from_env()
    days = older_than_days if older_than_days is not None else settings.job_retention_days

    async def go() -> tuple[int, int]:
        async with writing_runtime(settings) as rt, rt.pool.connection() as conn:
            deleted = await queue.prune(conn, older_than_days=days, include_legacy=include_legacy)
            if include_legacy:
                return deleted, 0
            return deleted, await queue.count_legacy_finished(conn, older_than_days=days)

    deleted, kept = run_async(go)
    line = f"Deleted {deleted} finished job(s) older than {days:g} day(s)."
    if kept:
        line += (
            f" Kept {kept} that the Node worker finished before capo-worker took over "
            "(add --include-legacy to delete them too)."
        )
    _say(line)


@app.command("prepare-rollback")
def prepare_rollback(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check and show what would change; change nothing.")
    ] = False,
) -> None:
    """Prepare the database for going back to the Node worker (docs/operations.md)."""
    from capo_worker.rollback import prepare_rollback as prepare
    from capo_worker.web.health import heartbeat_limit_seconds

    settings = settings_from_env()

    async def go() -> RollbackReport:
        async with (
            open_runtime(settings, migrate=False, if_behind="ignore") as rt,
            rt.pool.connection() as conn,
        ):
            return await prepare(
                conn,
                lease_seconds=settings.job_lease_seconds,
                heartbeat_limit_seconds=heartbeat_limit_seconds(settings.job_lease_seconds),
                dry_run=dry_run,
            )

    report = run_async(go)
    if report.requeued_jobs:
        _say(f"Put {report.requeued_jobs} job(s) of stopped workers back in the queue.")
    verb = "Would add" if dry_run else "Added"
    if report.created:
        keys = ", ".join(report.created)
        _say(f"{verb} the single-club keys the app's functions upsert on: {keys}.")
    else:
        _say("The single-club keys the app's functions upsert on are already there.")
    if not dry_run:
        _say(
            "Next: re-run the app's SQL function definitions, then start the Node worker "
            '(docs/operations.md, "Going back to the Node worker").'
        )


# --- league and stats -------------------------------------------------------------


@league_app.command("import")
def league_import(
    file: Annotated[
        Path, typer.Argument(help="A league file in the capo-league/1 JSON format (or .json.gz).")
    ],
    tenant: Annotated[
        str | None, typer.Option(help="Tenant name or id; a new name creates the tenant.")
    ] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace the tenant's existing league.")
    ] = False,
    strict: Annotated[
        bool,
        typer.Option("--strict", help="Refuse the file if it has consistency warnings."),
    ] = False,
    renumber: Annotated[
        bool,
        typer.Option("--renumber", help="Give the league new ids if another tenant uses its ids."),
    ] = False,
) -> None:
    """Validate a league file, then load it in one transaction (nothing is written on error)."""
    from capo_worker.league.checks import check_league
    from capo_worker.league.model import load_league_file

    settings = settings_from_env()
    league = load_league_file(file)
    _print_league_warnings(check_league(league, strict=strict, source=str(file)))
    summary = run_async(lambda: _import_into_tenant(settings, league, tenant, replace, renumber))
    _print_import_summary(summary)


@league_app.command("demo")
def league_demo(
    size: Annotated[str, typer.Option(help="tiny, small, capo or large.")] = "small",
    seed: Annotated[int, typer.Option(help="The same seed gives the same league.")] = 1,
    as_of: Annotated[
        str | None, typer.Option(help="Last day of the league (YYYY-MM-DD); default today.")
    ] = None,
    tenant: Annotated[
        str | None, typer.Option(help="Tenant name or id; a new name creates the tenant.")
    ] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace the tenant's existing league.")
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option(help="Write the league JSON to this file ('-' for stdout) instead."),
    ] = None,
) -> None:
    """Generate a realistic demo league and load it (or write it with --output)."""
    from capo_worker.league.demo import SIZES, generate_league
    from capo_worker.league.model import dump_league

    if size not in SIZES:
        raise typer.BadParameter(f"use one of {', '.join(SIZES)}", param_hint="--size")
    try:
        end = dt.date.fromisoformat(as_of) if as_of else None
    except ValueError:
        raise typer.BadParameter(
            f"{as_of!r} is not a date (YYYY-MM-DD)", param_hint="--as-of"
        ) from None
    league = generate_league(size=size, seed=seed, as_of=end)
    if output is not None:
        text = dump_league(league)
        if str(output) == "-":
            sys.stdout.write(text)
        else:
            try:
                output.write_text(text, "utf-8")
            except OSError as exc:
                raise LeagueFileError(f"cannot write {output}: {exc.strerror or exc}") from None
            err.print(
                f"Wrote the {size} demo league (seed {seed}, {len(league.players)} players, "
                f"{len(league.matches)} matches) to {output}."
            )
        return
    settings = settings_from_env()
    # Demo ids mean nothing: move them if another tenant already uses them.
    summary = run_async(lambda: _import_into_tenant(settings, league, tenant, replace, True))
    _print_import_summary(summary)
    out.print("Compute its statistics with: capo-worker stats run" + _tenant_flag(tenant))


def _tenant_flag(tenant: str | None) -> str:
    return f" --tenant {tenant}" if tenant else ""


async def _import_into_tenant(
    settings: Settings, league: League, tenant: str | None, replace: bool, renumber: bool
) -> ImportSummary:
    from capo_worker.league.importer import import_league
    from capo_worker.tenants import resolve_tenant

    async with (
        writing_runtime(settings) as rt,
        rt.pool.connection() as conn,
        conn.transaction(),
    ):
        tenant_id = await resolve_tenant(conn, tenant, create=True)
        return await import_league(conn, league, tenant_id, replace=replace, renumber=renumber)


def _print_league_warnings(warnings: list[str], shown: int = 10) -> None:
    for warning in warnings[:shown]:
        err.print(f"warning: {warning}", markup=False, highlight=False, soft_wrap=True)
    if len(warnings) > shown:
        err.print(f"warning: ... and {len(warnings) - shown} more (--strict refuses them)")


def _print_import_summary(summary: ImportSummary) -> None:
    out.print(
        f"Imported {summary.players} players, {summary.matches} matches, "
        f"{summary.player_matches} player_matches and {summary.app_config} config keys "
        f"into tenant {summary.tenant_id}.",
        markup=False,
        highlight=False,
    )
    if summary.id_shift:
        shifts = ", ".join(f"{table} +{n}" for table, n in summary.id_shift.items())
        out.print(f"Ids were in use by another tenant and were shifted: {shifts}.")


@stats_app.command("run")
def stats_run(
    tenant: Annotated[str | None, typer.Option(help="Tenant name or id.")] = None,
    as_of: Annotated[
        str | None, typer.Option(help="Compute as if today were this date (YYYY-MM-DD).")
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
    from capo_worker.stats.cli_run import run_stats_command

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


def main() -> None:
    try:
        app()
    except USER_ERRORS as exc:
        err.print(str(exc), markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
