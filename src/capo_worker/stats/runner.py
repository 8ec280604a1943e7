"""Runs the stats functions as a dependency graph and reports each outcome.

Independent functions run in parallel, each on its own pooled connection and
in its own transaction with a statement timeout. A function starts as soon as
the functions it reads from have succeeded; if one of those failed, it is
skipped and says why. One failure never stops the others.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from capo_worker import metrics
from capo_worker.config import Settings
from capo_worker.job_row import Attempt
from capo_worker.results import FunctionResult, FunctionStatus, JobResults
from capo_worker.stats.registry import STATS_FUNCTIONS, StatsFunction, dependency_order
from capo_worker.stats.scope import FunctionScope

log = logging.getLogger(__name__)


@dataclass
class FunctionRun:
    """One function's outcome in this run."""

    function: StatsFunction
    status: FunctionStatus
    duration_ms: int
    error: str | None = None
    details: dict[str, Any] | None = None  # the function's own summary (rows, note)
    scope: FunctionScope | None = None  # what a post-match job recomputed, and why

    def result(self) -> FunctionResult:
        """Its entry in the results JSON (`function_results`)."""
        entry = FunctionResult(
            function=self.function.name,
            status=self.status,
            duration=self.duration_ms,
            cache_tags=list(self.function.cache_tags),
        )
        if self.error is not None:
            entry.error = self.error
        if self.details is not None:
            entry.details = self.details
        if self.scope is not None:
            entry.scope = self.scope.label
            entry.scope_reason = self.scope.reason
        return entry


@dataclass
class RunReport:
    tenant_id: str
    results: list[FunctionRun]
    duration_ms: int
    as_of: dt.date | None = None

    @property
    def succeeded(self) -> list[FunctionRun]:
        return [r for r in self.results if r.status == "success"]

    @property
    def ok(self) -> bool:
        return all(r.status == "success" for r in self.results)

    @property
    def successful_tags(self) -> list[str]:
        return [t for r in self.succeeded for t in r.function.cache_tags]

    @property
    def failed_names(self) -> list[str]:
        """The functions that failed or were skipped."""
        return [r.function.name for r in self.results if r.status != "success"]

    def summary(self) -> JobResults:
        """The stats part of the results JSON: the reference's keys, real names, skips."""
        return JobResults(
            total_functions=len(self.results),
            successful_functions=len(self.succeeded),
            failed_functions=sum(r.status == "failed" for r in self.results),
            skipped_functions=sum(r.status == "skipped" for r in self.results),
            stats_duration_ms=self.duration_ms,
            tenant_id=self.tenant_id,
            function_results=[r.result() for r in self.results],
        )


# Called as (function, "started" | "finished", result or None); the CLI draws progress with it.
ProgressCallback = Callable[[StatsFunction, str, FunctionRun | None], None]


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, psycopg.Error):
        diag = exc.diag.message_primary
        return f"Database function error: {diag or str(exc).strip()}"
    return str(exc) or type(exc).__name__


class StatsRunner:
    def __init__(
        self,
        pool: AsyncConnectionPool,
        *,
        functions: tuple[StatsFunction, ...] = STATS_FUNCTIONS,
        parallelism: int = 4,
        statement_timeout_seconds: float = 300.0,
    ) -> None:
        self.pool = pool
        dependency_order(functions)  # a cycle would leave its functions waiting forever
        self.functions = functions
        self.parallelism = parallelism
        self.statement_timeout_ms = int(statement_timeout_seconds * 1000)

    @classmethod
    def from_settings(cls, pool: AsyncConnectionPool, settings: Settings) -> StatsRunner:
        """The runner every command and the worker use: STATS_PARALLELISM, the timeout."""
        return cls(
            pool,
            parallelism=settings.stats_parallelism,
            statement_timeout_seconds=settings.stats_function_timeout_seconds,
        )

    async def run(
        self,
        tenant_id: str,
        *,
        as_of: dt.date | None = None,
        only: tuple[StatsFunction, ...] | None = None,
        sequential: bool = False,
        on_progress: ProgressCallback | None = None,
        job_id: str | None = None,
        attempt: int | None = None,
        scopes: Mapping[str, FunctionScope] | None = None,
    ) -> RunReport:
        """Run the graph (or the `only` subset, whose dependencies are then assumed met).

        `scopes` (a post-match job's, stats/scope.py) says per function which
        players it recomputes; a function not in it runs in full.

        `job_id`, when given, is visible to the functions as the setting
        capo.job_id; with `attempt`, each transaction's application_name names
        the job, the attempt and the function ("capo-job <id> #<n> <function>"),
        so that a rescue can find and end the sessions of a lost attempt.
        """
        chosen = only if only is not None else self.functions
        names = {f.name for f in chosen}
        limit = asyncio.Semaphore(1 if sequential else self.parallelism)
        done: dict[str, asyncio.Future[FunctionRun]] = {
            f.name: asyncio.get_running_loop().create_future() for f in chosen
        }
        started = time.perf_counter()

        async def run_one(fn: StatsFunction) -> FunctionRun:
            blockers = []
            for dep in fn.depends_on:
                if dep in names:
                    dep_result = await done[dep]
                    if dep_result.status != "success":
                        blockers.append(dep)
            if blockers:
                result = FunctionRun(
                    fn,
                    "skipped",
                    0,
                    error=f"skipped: depends on {', '.join(blockers)}, which failed",
                )
            else:
                async with limit:
                    if on_progress:
                        on_progress(fn, "started", None)
                    scope = (scopes or {}).get(fn.name)
                    result = await self._call(fn, tenant_id, as_of, job_id, attempt, scope)
            if on_progress:
                on_progress(fn, "finished", result)
            done[fn.name].set_result(result)
            return result

        tasks = [asyncio.create_task(run_one(f), name=f.name) for f in chosen]
        try:
            results = await asyncio.gather(*tasks)
        except BaseException:
            for t in tasks:
                t.cancel()
            raise
        return RunReport(
            tenant_id=tenant_id,
            results=list(results),
            duration_ms=int((time.perf_counter() - started) * 1000),
            as_of=as_of,
        )

    async def _call(
        self,
        fn: StatsFunction,
        tenant_id: str,
        as_of: dt.date | None,
        job_id: str | None,
        attempt: int | None,
        scope: FunctionScope | None = None,
    ) -> FunctionRun:
        started = time.perf_counter()
        try:
            async with self.pool.connection() as conn, conn.transaction():
                # Settings for this transaction only. Without as_of, capo.as_of keeps
                # what the database or role sets (a staging database pinned to a date).
                await conn.execute(
                    """SELECT set_config('statement_timeout', %s, true),
                              set_config('capo.as_of', COALESCE(
                                  %s, current_setting('capo.as_of', true), ''), true),
                              set_config('capo.job_id', %s, true),
                              set_config('capo.scope_players', %s, true),
                              set_config('application_name', %s, true)""",
                    (
                        str(self.statement_timeout_ms),
                        as_of.isoformat() if as_of else None,
                        job_id or "",
                        scope.setting() if scope else "",
                        _application_name(fn, job_id, attempt),
                    ),
                )
                cur = await conn.execute(
                    f"SELECT {fn.name}(%s::uuid)".encode(),  # names come from the registry
                    (tenant_id,),
                )
                row = await cur.fetchone()
                # The date these tables were computed for, committed with them:
                # the league pages label their periods by it.
                await conn.execute(
                    """INSERT INTO capo_stats_computed_for (tenant_id, function_name, as_of)
                       VALUES (%s, %s, capo_today())
                       ON CONFLICT (tenant_id, function_name)
                       DO UPDATE SET as_of = EXCLUDED.as_of, computed_at = now()""",
                    (tenant_id, fn.name),
                )
            details = row[0] if row and isinstance(row[0], dict) else None
            elapsed = _elapsed_ms(started)
            result = FunctionRun(fn, "success", elapsed, details=details, scope=scope)
        except (psycopg.Error, OSError) as exc:
            elapsed = _elapsed_ms(started)
            result = FunctionRun(fn, "failed", elapsed, error=_error_text(exc), scope=scope)
            log.warning("Stats function %s failed: %s", fn.name, result.error)
        metrics.STATS_FUNCTION_DURATION.labels(fn.name, result.status).observe(
            result.duration_ms / 1000
        )
        return result


def _application_name(fn: StatsFunction, job_id: str | None, attempt: int | None) -> str:
    if job_id is not None and attempt is not None:
        return f"{Attempt(job_id, attempt).application_name} {fn.name}"[:63]
    return f"capo-worker {fn.name}"[:63]


def _elapsed_ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
