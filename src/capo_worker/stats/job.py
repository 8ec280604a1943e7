"""The `stats_update` job: run the stats graph for the job's tenant, then
tell the web app which cache tags changed, and build the results JSON."""

from __future__ import annotations

from typing import Any, Protocol

from capo_worker.handlers import JobContext, JobOutcome
from capo_worker.queue import Job
from capo_worker.stats.runner import RunReport, StatsRunner


class InvalidationResult(Protocol):
    success: bool

    def to_json(self) -> dict[str, Any]: ...


class CacheInvalidator(Protocol):
    async def invalidate(
        self, tags: list[str], *, source: str, request_id: str | None
    ) -> InvalidationResult: ...


def failure_message(report: RunReport, invalidation: InvalidationResult | None) -> str | None:
    """The reference's error text: '<n>/<total> stats functions failed; Cache invalidation ...'."""
    parts = []
    failed = sum(r.status != "success" for r in report.results)
    if failed:
        names = ", ".join(r.function.name for r in report.results if r.status != "success")
        parts.append(f"{failed}/{len(report.results)} stats functions failed ({names})")
    if invalidation is not None and not invalidation.success:
        detail = invalidation.to_json().get("error") or "unknown error"
        parts.append(f"Cache invalidation failed: {detail}")
    return "; ".join(parts) or None


class StatsUpdateHandler:
    def __init__(self, runner: StatsRunner, invalidator: CacheInvalidator | None = None) -> None:
        self.runner = runner
        self.invalidator = invalidator

    async def __call__(self, job: Job, ctx: JobContext) -> JobOutcome:
        report = await self.runner.run(job.effective_tenant_id)
        results = report.summary_json()
        invalidation: InvalidationResult | None = None
        if self.invalidator is not None and report.successful_tags:
            invalidation = await self.invalidator.invalidate(
                report.successful_tags,
                source=f"job-{job.trigger or 'unknown'}",
                request_id=job.request_id,
            )
            results["cache_invalidation"] = invalidation.to_json()
        results["cache_invalidation_success"] = invalidation.success if invalidation else None
        error = failure_message(report, invalidation)
        return JobOutcome(ok=error is None, results=results, error=error)
