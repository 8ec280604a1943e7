"""The stats pipeline: run the graph, then invalidate the tags of what succeeded.

One path for the worker's stats jobs (stats/job.py) and for the enqueue
endpoint when background jobs are off (web/enqueue.py): the runner computes,
the web app's cache is told which tags changed, or the results say why
nothing was sent, and the outcome carries the reference's error text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from capo_worker.results import CacheOutcome, JobResults
from capo_worker.stats.runner import StatsRunner
from capo_worker.stats.scope import FunctionScope

NOT_CONFIGURED = (
    "not configured: set NEXT_PUBLIC_APP_URL or CACHE_INVALIDATION_URL (and INTERNAL_API_KEY)"
)
NOTHING_TO_INVALIDATE = "no stats function succeeded: no tags to invalidate"


class InvalidationResult(Protocol):
    @property
    def success(self) -> bool: ...

    @property
    def permanent(self) -> bool: ...

    @property
    def error(self) -> str | None: ...

    def outcome(self) -> CacheOutcome: ...


class CacheInvalidator(Protocol):
    """cache.WebhookInvalidator, or None when no app URL is configured."""

    async def invalidate(
        self, tags: list[str], *, source: str, request_id: str | None
    ) -> InvalidationResult: ...


@dataclass(frozen=True)
class StatsOutcome:
    results: JobResults
    error: str | None  # the reference's error text; None when everything succeeded
    retryable: bool  # worth another automatic attempt

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def stats_ok(self) -> bool:
        """Every stats function succeeded (the cache invalidation aside)."""
        return self.results.successful_functions == self.results.total_functions


async def run_and_invalidate(
    runner: StatsRunner,
    invalidator: CacheInvalidator | None,
    tenant_id: str,
    *,
    source: str,
    request_id: str | None,
    sequential: bool = False,
    job_id: str | None = None,
    attempt: int | None = None,
    as_of: dt.date | None = None,
    scopes: Mapping[str, FunctionScope] | None = None,
) -> StatsOutcome:
    """Run the stats of `tenant_id`, then send the tags of the functions that succeeded."""
    report = await runner.run(
        tenant_id,
        sequential=sequential,
        job_id=job_id,
        attempt=attempt,
        as_of=as_of,
        scopes=scopes,
    )
    results = report.summary()
    invalidation = await invalidate(
        invalidator, report.successful_tags, results, source=source, request_id=request_id
    )
    return StatsOutcome(
        results,
        failure_message(report.failed_names, len(report.results), invalidation),
        # Failed functions are worth another attempt even when the webhook is misconfigured.
        retryable=not report.ok or worth_retrying(invalidation),
    )


async def invalidate(
    invalidator: CacheInvalidator | None,
    tags: list[str],
    results: JobResults,
    *,
    source: str,
    request_id: str | None,
    already: list[str] | None = None,
) -> InvalidationResult | None:
    """Send `tags` (`already`: sent by an earlier attempt); record the outcome, or why
    nothing was sent, in `results`."""
    invalidation: InvalidationResult | None = None
    if invalidator is None:
        outcome = CacheOutcome.skipped_because(NOT_CONFIGURED)
    elif not tags and not already:
        outcome = CacheOutcome.skipped_because(NOTHING_TO_INVALIDATE)
    elif not tags:  # every tag went through on an earlier attempt
        outcome = CacheOutcome(
            success=True,
            invalidated_tags=list(already or []),
            failed_tags=[],
            tags=dict.fromkeys(already or [], "invalidated"),
            attempts=[],
            already_invalidated_tags=list(already or []),
        )
    else:
        invalidation = await invalidator.invalidate(tags, source=source, request_id=request_id)
        outcome = invalidation.outcome()
        if already:
            outcome.already_invalidated_tags = list(already)
            outcome.invalidated_tags = [*already, *outcome.invalidated_tags]
            outcome.tags = {**dict.fromkeys(already, "invalidated"), **outcome.tags}
    results.cache_invalidation = outcome
    results.cache_invalidation_success = None if outcome.skipped else outcome.success
    return invalidation


def failure_message(
    failed_names: list[str], total: int, invalidation: InvalidationResult | None
) -> str | None:
    """The reference's error text: '<n>/<total> stats functions failed (...); Cache
    invalidation failed: ...', or None when nothing failed."""
    parts = []
    if failed_names:
        parts.append(
            f"{len(failed_names)}/{total} stats functions failed ({', '.join(failed_names)})"
        )
    if invalidation is not None and not invalidation.success:
        parts.append(f"Cache invalidation failed: {invalidation.error or 'unknown error'}")
    return "; ".join(parts) or None


def worth_retrying(invalidation: InvalidationResult | None) -> bool:
    """A permanent invalidation failure (wrong key, wrong URL) is not retried automatically:
    fix the configuration, then retry the job by hand (only the invalidation is sent)."""
    return invalidation is None or invalidation.success or not invalidation.permanent
