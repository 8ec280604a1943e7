"""The `stats_update` job: run the stats graph for the job's tenant, then
tell the web app which cache tags changed, and build the results JSON.

No double work: the results of the previous attempt stay on the job row. When
that attempt ran every stats function successfully and only the cache
invalidation failed, a retry (automatic, or by hand with `jobs retry`) sends
only the tags not yet invalidated and leaves the aggregated tables alone. The
results record which attempt computed the stats (`stats_attempt`) and whether
this attempt reused them (`stats_reused`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from capo_worker.handlers import JobContext, JobOutcome
from capo_worker.queue import Job
from capo_worker.stats.registry import StatsFunction
from capo_worker.stats.runner import RunReport, StatsRunner
from capo_worker.timestamps import iso_utc_ms

NOT_CONFIGURED = (
    "not configured: set NEXT_PUBLIC_APP_URL or CACHE_INVALIDATION_URL (and INTERNAL_API_KEY)"
)
NOTHING_TO_INVALIDATE = "no stats function succeeded: no tags to invalidate"

# The stats part of the results, carried over when a retry reuses them.
_STATS_KEYS = (
    "total_functions",
    "successful_functions",
    "failed_functions",
    "skipped_functions",
    "stats_duration_ms",
    "tenant_id",
    "function_results",
    "stats_attempt",
    "stats_computed_at",
)


class InvalidationResult(Protocol):
    @property
    def success(self) -> bool: ...

    @property
    def permanent(self) -> bool: ...

    def to_json(self) -> dict[str, Any]: ...


class CacheInvalidator(Protocol):
    async def invalidate(
        self, tags: list[str], *, source: str, request_id: str | None
    ) -> InvalidationResult: ...


def _failure_text(
    failed_names: list[str], total: int, invalidation: InvalidationResult | None
) -> str | None:
    parts = []
    if failed_names:
        parts.append(
            f"{len(failed_names)}/{total} stats functions failed ({', '.join(failed_names)})"
        )
    if invalidation is not None and not invalidation.success:
        detail = invalidation.to_json().get("error") or "unknown error"
        parts.append(f"Cache invalidation failed: {detail}")
    return "; ".join(parts) or None


def failure_message(report: RunReport, invalidation: InvalidationResult | None) -> str | None:
    """The reference's error text: '<n>/<total> stats functions failed; Cache invalidation ...'."""
    failed = [r.function.name for r in report.results if r.status != "success"]
    return _failure_text(failed, len(report.results), invalidation)


def reusable_stats(
    results: dict[str, Any] | None, tenant_id: str, functions: Iterable[StatsFunction]
) -> dict[str, Any] | None:
    """The previous attempt's results when its stats can stand and only invalidation is owed.

    That is: the attempt ran exactly the functions we would run, for this
    tenant, every one succeeded, and the cache invalidation failed. Anything
    else (a function failed or was skipped, the worker died before recording,
    invalidation succeeded or was skipped) means the stats are run again.
    """
    if not isinstance(results, dict) or results.get("cache_invalidation_success") is not False:
        return None
    if results.get("tenant_id") != tenant_id:
        return None
    entries = results.get("function_results")
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        return None
    names = [e.get("function") for e in entries]
    if sorted(map(str, names)) != sorted(f.name for f in functions):
        return None
    if any(e.get("status") != "success" for e in entries):
        return None
    return results


class StatsUpdateHandler:
    def __init__(self, runner: StatsRunner, invalidator: CacheInvalidator | None = None) -> None:
        self.runner = runner
        self.invalidator = invalidator

    async def __call__(self, job: Job, ctx: JobContext) -> JobOutcome:
        previous = reusable_stats(job.results, job.effective_tenant_id, self.runner.functions)
        if previous is not None:
            return await self._invalidate_again(job, previous, ctx)
        return await self._run_stats(job)

    async def _run_stats(self, job: Job) -> JobOutcome:
        report = await self.runner.run(job.effective_tenant_id, job_id=job.id, attempt=job.attempts)
        results = report.summary_json()
        results["stats_attempt"] = job.attempts
        results["stats_computed_at"] = iso_utc_ms()
        results["stats_reused"] = False
        invalidation = await self._invalidate(job, report.successful_tags, results)
        error = failure_message(report, invalidation)
        # Failed functions are worth another attempt even when the webhook is misconfigured.
        retryable = not report.ok or _worth_retrying(invalidation)
        return JobOutcome(ok=error is None, results=results, error=error, retryable=retryable)

    async def _invalidate_again(
        self, job: Job, previous: dict[str, Any], ctx: JobContext
    ) -> JobOutcome:
        results = {k: previous[k] for k in _STATS_KEYS if k in previous}
        results.setdefault("stats_attempt", previous.get("attempt"))
        results["stats_reused"] = True
        before = previous.get("cache_invalidation")
        done = set(before.get("invalidated_tags") or []) if isinstance(before, dict) else set()
        tags = [t for f in self.runner.functions for t in f.cache_tags]
        ctx.log.info(
            "Job %s: the stats of attempt %s all succeeded; sending only the cache invalidation",
            job.id,
            results.get("stats_attempt"),
            extra={"job_id": job.id},
        )
        invalidation = await self._invalidate(
            job, [t for t in tags if t not in done], results, already=[t for t in tags if t in done]
        )
        error = _failure_text([], len(self.runner.functions), invalidation)
        return JobOutcome(
            ok=error is None, results=results, error=error, retryable=_worth_retrying(invalidation)
        )

    async def _invalidate(
        self,
        job: Job,
        tags: list[str],
        results: dict[str, Any],
        *,
        already: list[str] | None = None,
    ) -> InvalidationResult | None:
        """Send `tags`; record the outcome (or why nothing was sent) in `results`."""
        invalidation: InvalidationResult | None = None
        if self.invalidator is None:
            results["cache_invalidation"] = {"skipped": True, "reason": NOT_CONFIGURED}
        elif not tags and not already:
            results["cache_invalidation"] = {"skipped": True, "reason": NOTHING_TO_INVALIDATE}
        elif not tags:  # every tag went through on an earlier attempt
            results["cache_invalidation"] = {
                "success": True,
                "invalidated_tags": list(already or []),
                "failed_tags": [],
                "tags": dict.fromkeys(already or [], "invalidated"),
                "attempts": [],
                "already_invalidated_tags": list(already or []),
            }
        else:
            invalidation = await self.invalidator.invalidate(
                tags,
                source=f"job-{job.trigger or 'unknown'}",
                request_id=job.request_id or job.id,
            )
            outcome = invalidation.to_json()
            if already:
                outcome["already_invalidated_tags"] = list(already)
                outcome["invalidated_tags"] = [*already, *outcome.get("invalidated_tags", [])]
                outcome["tags"] = {
                    **dict.fromkeys(already, "invalidated"),
                    **outcome.get("tags", {}),
                }
            results["cache_invalidation"] = outcome
        skipped = results["cache_invalidation"].get("skipped", False)
        results["cache_invalidation_success"] = (
            None if skipped else results["cache_invalidation"]["success"]
        )
        return invalidation


def _worth_retrying(invalidation: InvalidationResult | None) -> bool:
    """A permanent invalidation failure (wrong key, wrong URL) is not retried automatically:
    fix the configuration, then retry the job by hand (only the invalidation is sent)."""
    return invalidation is None or invalidation.success or not invalidation.permanent
