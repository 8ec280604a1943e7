"""Jobs from the command line: enqueue, and jobs list/show/retry/prune."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import uuid
from typing import Annotated, Any

import typer
from psycopg_pool import AsyncConnectionPool
from rich.table import Table

from capo_worker import queue
from capo_worker.cli.common import (
    err,
    out,
    print_json,
    reading_runtime,
    run_async,
    say,
    settings_from_env,
    writing_runtime,
)
from capo_worker.job_row import FINISHED, STATUSES, TRIGGERS, Job
from capo_worker.results import JobResults
from capo_worker.stats.requests import StatsRequest, enqueue_stats
from capo_worker.tenants import list_tenants, resolve_tenant
from capo_worker.text import shorten


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
    if trigger not in TRIGGERS:
        raise typer.BadParameter(
            f"unknown trigger {trigger!r}; use one of {', '.join(TRIGGERS)}",
            param_hint="--trigger",
        )
    settings = settings_from_env()

    async def go() -> int:
        async with writing_runtime(settings) as rt:
            async with rt.pool.connection() as conn:
                tenant_id = await resolve_tenant(conn, tenant)
                request = StatsRequest.new(
                    trigger,  # checked above
                    user_id="cli",
                    request_id=request_id,
                    match_id=match_id,
                    tenant_id=tenant_id if tenant else None,
                )
                result = await enqueue_stats(conn, request, tenant_id, settings)
            if json_output and not wait:
                print_json({"jobId": result.job_id, "deduplicated": result.deduplicated})
            elif not json_output:
                note = " (joined an existing job)" if result.deduplicated else ""
                out.print(f"{result.job_id}{note}")
            if not wait:
                return 0
            job = await _follow(rt.pool, result.job_id, quiet=json_output)
            if json_output:
                print_json(job.to_dict())
            elif job.status == "failed":
                say(f"error: {job.error_message or '(none recorded)'}", console=err)
                for line in _failed_function_lines(job):
                    say(line, console=err)
            return 0 if job.status == "completed" else 1

    raise typer.Exit(run_async(go))


async def _follow(pool: AsyncConnectionPool, job_id: str, *, quiet: bool) -> Job:
    """Poll the job until it is finished, printing each status and each failed attempt."""
    last = None
    attempts_shown = 0
    while True:
        async with pool.connection() as conn:
            job = await queue.get_job(conn, job_id)
        if job is None:
            raise typer.Exit(1)
        if not quiet:
            for line in _attempt_lines(job)[attempts_shown:]:
                say(line, console=err)
            attempts_shown = len(_attempt_lines(job))
            if job.status != last:
                say(f"job {job_id}: {job.status}", console=err)
                last = job.status
        if job.status in FINISHED:
            return job
        await asyncio.sleep(0.5)


def _attempt_lines(job: Job) -> list[str]:
    """One line per failed attempt: its number, error, worker and time."""
    return [
        f"attempt {a.get('attempt')}: {a.get('error')} ({a.get('worker')}, {a.get('at')})"
        for a in job.attempt_errors
        if isinstance(a, dict)
    ]


def _failed_function_lines(job: Job) -> list[str]:
    """The last attempt's failed stats functions, each with its error."""
    results = JobResults.read(job.results).results
    return [
        f"  {fn.function}: {fn.status} - {fn.error}"
        for fn in (results.function_results if results else [])
        if fn.status == "failed"
    ]


def _fmt_time(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S") if value else "-"


# --- job ids: the whole UUID, or its start (as the admin page shows it) ---------------

_ID_OR_PREFIX = re.compile(r"[0-9a-f-]{1,36}")
CANDIDATES_SHOWN = 10


class JobIdError(Exception):
    """An id prefix that more than one job starts with."""


def job_id_argument(value: str) -> str:
    """A job id or the start of one (hex digits and dashes), lower-cased."""
    wanted = value.strip().lower()
    if not _ID_OR_PREFIX.fullmatch(wanted):
        raise typer.BadParameter(
            f"{value[:60]!r} is not a job id: give the job's UUID or its first characters"
        )
    return wanted


async def find_job(conn: Any, wanted: str) -> Job | None:
    """The job with this id, or the only one whose id starts with it."""
    try:
        return await queue.get_job(conn, str(uuid.UUID(wanted)))
    except ValueError:
        pass  # not a whole UUID: a prefix
    ids = await queue.job_ids_starting_with(conn, wanted, limit=CANDIDATES_SHOWN + 1)
    if len(ids) > 1:
        more = " and more" if len(ids) > CANDIDATES_SHOWN else ""
        raise JobIdError(
            f"Job id {wanted} is ambiguous: it is the start of "
            f"{', '.join(ids[:CANDIDATES_SHOWN])}{more}. Give more of the id."
        )
    return await queue.get_job(conn, ids[0]) if ids else None


def _no_job(wanted: str) -> str:
    return f"No job {wanted}." if len(wanted) == 36 else f"No job whose id starts with {wanted}."


def jobs_list(
    status: Annotated[
        str | None, typer.Option(help="queued, processing, completed, failed")
    ] = None,
    trigger: Annotated[str | None, typer.Option(help="post-match, admin or cron")] = None,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's (name or id).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Newest jobs first."""
    if status is not None and status not in STATUSES:
        raise typer.BadParameter(f"use one of {', '.join(STATUSES)}", param_hint="--status")
    settings = settings_from_env()

    async def go() -> tuple[list[Job], dict[str, str]]:
        async with reading_runtime(settings) as rt, rt.pool.connection() as conn:
            tenant_id = await resolve_tenant(conn, tenant) if tenant else None
            jobs = await queue.list_jobs(
                conn, status=status, trigger=trigger, tenant_id=tenant_id, limit=limit
            )
            return jobs, {t.id: t.name for t in await list_tenants(conn)}

    jobs, tenant_names = run_async(go)
    if json_output:
        print_json([j.to_dict() for j in jobs])
        return
    if not jobs:
        out.print("No background jobs found.")
        return
    table = Table("id", "tenant", "trigger", "status", "created", "duration", "attempts", "error")
    table.columns[0].no_wrap = True
    table.columns[4].no_wrap = True
    for j in jobs:
        duration = f"{j.duration_ms / 1000:.1f}s" if j.duration_ms is not None else "-"
        table.add_row(
            j.id,
            tenant_names.get(j.effective_tenant_id, j.effective_tenant_id),
            j.trigger or "-",
            j.status,
            _fmt_time(j.created_at),
            duration,
            f"{j.attempts}/{j.max_attempts}",
            shorten(j.error_message or "", 60, ending=""),
        )
    out.print(table)


JobIdArgument = Annotated[
    str,
    typer.Argument(
        help="The job's id, or its first characters (enough to name one job).",
        parser=job_id_argument,
        metavar="ID",
    ),
]


def jobs_show(
    job_id: JobIdArgument,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """One job with its results and the error of every attempt."""
    settings = settings_from_env()

    async def go() -> Job | None:
        async with reading_runtime(settings) as rt, rt.pool.connection() as conn:
            return await find_job(conn, job_id)

    job = run_async(go)
    if job is None:
        err.print(_no_job(job_id))
        raise typer.Exit(1)
    if json_output:
        print_json(job.to_dict())
        return
    table = Table("field", "value", show_header=False)
    for key, value in job.to_dict().items():
        if key in ("results", "attempt_errors", "job_payload"):
            continue
        table.add_row(key, "-" if value is None else str(value))
    out.print(table)
    out.print("payload:", json.dumps(job.job_payload))
    for line in _attempt_lines(job):
        out.print(line)
    results = JobResults.read(job.results).results
    if results and results.stats_scope:
        why = f" ({results.stats_scope_reason})" if results.stats_scope_reason else ""
        out.print(f"stats scope: {results.stats_scope}{why}")
    for fn in results.function_results if results else []:
        line = f"  {fn.function}: {fn.status} in {fn.duration} ms"
        if fn.scope:
            line += f", {fn.scope}" + (f" ({fn.scope_reason})" if fn.scope_reason else "")
        out.print(line + (f" - {fn.error}" if fn.error else ""))


def jobs_retry(job_id: JobIdArgument) -> None:
    """Queue a failed job again (retry_count + 1); its history is kept."""
    settings = settings_from_env()

    async def go() -> tuple[Job | None, Job | None]:
        async with writing_runtime(settings) as rt, rt.pool.connection() as conn:
            found = await find_job(conn, job_id)
            if found is None:
                return None, None
            retried = await queue.retry(conn, job_id=found.id, extra_attempts=settings.max_attempts)
            return retried, None if retried else await queue.get_job(conn, found.id)

    retried, current = run_async(go)
    if retried is not None:
        out.print(f"Job {retried.id} queued again (retry {retried.retry_count}).")
        return
    if current is None:
        err.print(_no_job(job_id))
    else:
        err.print(f"Job {current.id} is {current.status}; only failed jobs can be retried.")
    raise typer.Exit(1)


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
    say(line)
