"""The rollback path: run the stats inside the request when background jobs are off.

When USE_BG_JOBS_GLOBAL or the trigger's flag is false, the enqueue endpoint
does what the reference's legacy route did: the ten functions one after
another (in dependency order, each in its own transaction), then the cache
invalidation of the tags whose function succeeded, and answers with the
results. Nothing goes into the job table.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from psycopg_pool import AsyncConnectionPool

from capo_worker.cache import build_invalidator
from capo_worker.config import Settings
from capo_worker.stats.job import NOT_CONFIGURED, NOTHING_TO_INVALIDATE, failure_message
from capo_worker.stats.runner import StatsRunner

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SynchronousRun:
    ok: bool
    error: str | None
    results: dict[str, Any]


async def run_stats_now(
    settings: Settings,
    pool: AsyncConnectionPool,
    *,
    tenant_id: str,
    trigger: str,
    request_id: str,
) -> SynchronousRun:
    runner = StatsRunner(
        pool,
        parallelism=1,
        statement_timeout_seconds=settings.stats_function_timeout_seconds,
    )
    log.info(
        "Background jobs are off for %s: running the stats now, one function at a time", trigger
    )
    report = await runner.run(tenant_id, sequential=True)
    results = report.summary_json()
    invalidator = build_invalidator(settings)
    invalidation = None
    if invalidator is None:
        results["cache_invalidation"] = {"skipped": True, "reason": NOT_CONFIGURED}
    elif not report.successful_tags:
        results["cache_invalidation"] = {"skipped": True, "reason": NOTHING_TO_INVALIDATE}
    else:
        invalidation = await invalidator.invalidate(
            report.successful_tags, source=f"sync-{trigger}", request_id=request_id
        )
        results["cache_invalidation"] = invalidation.to_json()
    results["cache_invalidation_success"] = invalidation.success if invalidation else None
    results["mode"] = "synchronous"
    error = failure_message(report, invalidation)
    return SynchronousRun(ok=error is None, error=error, results=results)
