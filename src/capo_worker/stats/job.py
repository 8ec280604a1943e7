"""The `stats_update` job: the stats pipeline for the job's tenant, with no double work.

The results of the previous attempt stay on the job row. When that attempt
ran every stats function successfully and only the cache invalidation
failed, a retry (automatic, or by hand with `jobs retry`) sends only the tags
not yet invalidated and leaves the aggregated tables alone. The results
record which attempt computed the stats (`stats_attempt`) and whether this
attempt reused them (`stats_reused`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

import psycopg

from capo_worker.handlers import Job, JobContext, JobOutcome
from capo_worker.results import JobResults
from capo_worker.stats import scope
from capo_worker.stats.pipeline import (
    CacheInvalidator,
    failure_message,
    invalidate,
    run_and_invalidate,
    worth_retrying,
)
from capo_worker.stats.registry import StatsFunction
from capo_worker.stats.runner import StatsRunner
from capo_worker.timestamps import iso_utc

# The stats part of the results, carried over when a retry reuses them.
_STATS_KEYS = (
    "total_functions",
    "successful_functions",
    "failed_functions",
    "skipped_functions",
    "stats_duration_ms",
    "stats_scope",
    "stats_scope_reason",
    "tenant_id",
    "function_results",
    "stats_attempt",
    "stats_computed_at",
)


def reusable_stats(
    stored: Any, tenant_id: str, functions: Iterable[StatsFunction]
) -> JobResults | None:
    """The previous attempt's results when its stats can stand and only invalidation is owed.

    That is: the attempt ran exactly the functions we would run, for this
    tenant, every one succeeded, and the cache invalidation failed. Anything
    else (a function failed or was skipped, the worker died before recording,
    invalidation succeeded or was skipped, a row of another shape) means the
    stats are run again.
    """
    read = JobResults.read(stored)
    previous = read.results
    if previous is None or "results.function_results" in read.unreadable:
        return None
    if previous.cache_invalidation_success is not False or previous.tenant_id != tenant_id:
        return None
    names = sorted(e.function for e in previous.function_results)
    if names != sorted(f.name for f in functions):
        return None
    if any(e.status != "success" for e in previous.function_results):
        return None
    return previous


class StatsUpdateHandler:
    def __init__(self, runner: StatsRunner, invalidator: CacheInvalidator | None = None) -> None:
        self.runner = runner
        self.invalidator = invalidator

    async def __call__(self, job: Job, ctx: JobContext) -> JobOutcome:
        previous = reusable_stats(job.results, job.effective_tenant_id, self.runner.functions)
        if previous is not None:
            return await self._invalidate_again(job, previous, ctx)
        tenant_id = job.effective_tenant_id
        names = [f.name for f in self.runner.functions]
        try:
            async with self.runner.pool.connection() as conn:
                plan = await scope.decide(conn, job, tenant_id, names)
        except psycopg.Error as exc:
            plan = scope.undecided(names, str(exc).strip() or type(exc).__name__)
        outcome = await run_and_invalidate(
            self.runner,
            self.invalidator,
            tenant_id,
            source=_source(job),
            request_id=job.request_id or job.id,
            job_id=job.id,
            attempt=job.attempts,
            as_of=plan.today,
            scopes=plan.functions,
        )
        try:
            async with self.runner.pool.connection() as conn:
                await scope.remember(conn, tenant_id, plan, ok=outcome.stats_ok)
        except psycopg.Error as exc:
            ctx.log.warning(
                "Job %s: could not record the stats state (%s); forgetting it, so the "
                "next post-match job runs in full",
                job.id,
                str(exc).strip(),
                extra={"job_id": job.id},
            )
            with contextlib.suppress(psycopg.Error):
                async with self.runner.pool.connection() as conn:
                    await scope.remember(conn, tenant_id, plan, ok=False)
        results = outcome.results
        results.stats_scope = plan.label
        results.stats_scope_reason = plan.reason
        results.stats_attempt = job.attempts
        results.stats_computed_at = iso_utc()
        results.stats_reused = False
        return JobOutcome(outcome.ok, results.to_json(), outcome.error, outcome.retryable)

    async def _invalidate_again(
        self, job: Job, previous: JobResults, ctx: JobContext
    ) -> JobOutcome:
        carried = {k: v for k, v in previous.to_json().items() if k in _STATS_KEYS}
        results = JobResults.model_validate(carried)
        if "stats_attempt" not in carried:
            results.stats_attempt = previous.attempt
        results.stats_reused = True
        before = previous.cache_invalidation
        done = set(before.invalidated_tags) if before is not None else set()
        tags = [t for f in self.runner.functions for t in f.cache_tags]
        ctx.log.info(
            "Job %s: the stats of attempt %s all succeeded; sending only the cache invalidation",
            job.id,
            results.stats_attempt,
            extra={"job_id": job.id},
        )
        invalidation = await invalidate(
            self.invalidator,
            [t for t in tags if t not in done],
            results,
            source=_source(job),
            request_id=job.request_id or job.id,
            already=[t for t in tags if t in done],
        )
        error = failure_message([], len(self.runner.functions), invalidation)
        return JobOutcome(error is None, results.to_json(), error, worth_retrying(invalidation))


def _source(job: Job) -> str:
    return f"job-{job.trigger or 'unknown'}"
