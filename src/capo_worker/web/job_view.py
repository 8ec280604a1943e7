"""A job as the admin page shows it: labels, durations, results and cache outcome.

The job table is shared with the web app and open to hand edits, so a row may
hold shapes capo-worker never writes (`attempt_errors` as an object, a count
where a list belongs). Such a row still renders, with the parts that cannot
be read named in `unreadable`; it never breaks the page for the other rows.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from capo_worker.job_row import STATUSES, Job
from capo_worker.results import JobResults
from capo_worker.text import shorten

ERROR_PREVIEW = 120
SHORT_ID = 8


@dataclass(frozen=True)
class FunctionLine:
    name: str
    status: str
    duration_ms: int | None
    tags: list[str]
    error: str | None
    details: str | None
    scope: str = "-"  # "full", "match 4838, 18 players"; "-" on rows written before scopes
    scope_reason: str | None = None


@dataclass(frozen=True)
class CacheLine:
    state: str  # invalidated, failed, skipped, unknown
    summary: str
    invalidated: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    attempts: int = 0


@dataclass(frozen=True)
class JobView:
    id: str
    request_id: str | None
    trigger: str
    match_id: Any
    retry_of: str | None
    retry_count: int
    status: str
    status_class: str
    created_at: dt.datetime | None
    started_at: dt.datetime | None
    completed_at: dt.datetime | None
    run_after: dt.datetime | None
    waiting_to_retry: bool
    duration: str
    attempts: str
    error: str | None
    error_preview: str | None
    can_retry: bool
    worker: str | None
    tenant_id: str
    functions: list[FunctionLine]
    cache: CacheLine | None
    attempt_errors: list[dict[str, Any]]
    payload_json: str
    unreadable: list[str] = field(default_factory=list)  # parts of the row of an odd shape
    scope: str | None = None  # the stats' scope: "match 4838" or "full" (None: not recorded)
    scope_reason: str | None = None

    @property
    def short_id(self) -> str:
        """The id's first 8 characters: what `capo-worker jobs show` needs, mostly."""
        return self.id[:SHORT_ID]


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def unreadable_parts(job: Job) -> list[str]:
    """The parts of a row that are not of the shape capo-worker writes."""
    return _payload_and_errors(job) + JobResults.read(job.results).unreadable


def _payload_and_errors(job: Job) -> list[str]:
    odd = []
    if not isinstance(job.job_payload, dict):
        odd.append("job_payload")
    if not isinstance(job.attempt_errors, list) or not all(
        isinstance(e, dict) for e in job.attempt_errors
    ):
        odd.append("attempt_errors")
    return odd


def duration_text(job: Job) -> str:
    if job.started_at is None:
        return "N/A"
    if job.completed_at is None or job.completed_at < job.started_at:
        return "In progress..." if job.status == "processing" else "N/A"
    seconds = (job.completed_at - job.started_at).total_seconds()
    return f"{seconds:.1f}s" if seconds < 10 else f"{round(seconds)}s"


def _functions(results: JobResults | None) -> list[FunctionLine]:
    return [
        FunctionLine(
            name=entry.function,
            status=entry.status,
            duration_ms=entry.duration,
            tags=entry.cache_tags,
            error=entry.error,
            details=json.dumps(entry.details, sort_keys=True)
            if entry.details is not None
            else None,
            scope=entry.scope or "-",
            scope_reason=entry.scope_reason,
        )
        for entry in (results.function_results if results else [])
    ]


def _cache(results: JobResults | None) -> CacheLine | None:
    if results is None:
        return None
    outcome = results.cache_invalidation
    flag = results.cache_invalidation_success
    if outcome is None:
        if flag is None:
            return None
        return CacheLine("invalidated" if flag else "failed", "invalidated" if flag else "failed")
    if outcome.skipped:
        return CacheLine("skipped", f"skipped: {outcome.reason or 'no reason given'}")
    attempts = len(outcome.attempts)
    if outcome.success:
        summary = f"{len(outcome.invalidated_tags)} tag(s) invalidated in {attempts} attempt(s)"
        return CacheLine(
            "invalidated", summary, outcome.invalidated_tags, outcome.failed_tags, attempts
        )
    summary = f"failed: {outcome.error or 'some tags were not invalidated'}"
    return CacheLine("failed", summary, outcome.invalidated_tags, outcome.failed_tags, attempts)


def job_view(job: Job, now: dt.datetime | None = None) -> JobView:
    """The view of one row; a row that cannot be read at all still gets one, marked so."""
    now = now or dt.datetime.now(dt.UTC)
    try:
        return _view(job, now)
    except Exception as exc:  # a shape no check above foresaw: this row only
        return _bare_view(job, f"the whole row ({type(exc).__name__})")


def _bare_view(job: Job, what: str) -> JobView:
    return JobView(
        id=str(job.id),
        request_id=None,
        trigger=str(job.job_type),
        match_id=None,
        retry_of=None,
        retry_count=0,
        status=str(job.status),
        status_class=job.status if job.status in STATUSES else "other",
        created_at=None,
        started_at=None,
        completed_at=None,
        run_after=None,
        waiting_to_retry=False,
        duration="N/A",
        attempts="?",
        error=None,
        error_preview=None,
        can_retry=job.status == "failed",
        worker=None,
        tenant_id=str(job.tenant_id or ""),
        functions=[],
        cache=None,
        attempt_errors=[],
        payload_json="{}",
        unreadable=[what],
    )


def _view(job: Job, now: dt.datetime) -> JobView:
    payload = job.job_payload if isinstance(job.job_payload, dict) else {}
    read = JobResults.read(job.results)
    results = read.results
    error = job.error_message if job.status != "completed" else None
    waiting = job.status == "queued" and job.run_after is not None and job.run_after > now
    retry_of = payload.get("retryOf")
    return JobView(
        id=job.id,
        request_id=job.request_id,
        trigger=job.trigger or job.job_type,
        match_id=payload.get("matchId"),
        retry_of=str(retry_of) if retry_of else None,
        retry_count=job.retry_count,
        status=job.status,
        status_class=job.status if job.status in STATUSES else "other",
        created_at=job.created_at,
        started_at=job.started_at,
        completed_at=job.completed_at,
        run_after=job.run_after,
        waiting_to_retry=waiting,
        duration=duration_text(job),
        attempts=f"{job.attempts}/{job.max_attempts}",
        error=error,
        error_preview=shorten(error, ERROR_PREVIEW) if error else error,
        can_retry=job.status == "failed",
        worker=job.locked_by or (results.worker_id if results else None),
        tenant_id=job.effective_tenant_id,
        functions=_functions(results),
        cache=_cache(results),
        scope=results.stats_scope if results else None,
        scope_reason=results.stats_scope_reason if results else None,
        attempt_errors=[e for e in _list(job.attempt_errors) if isinstance(e, dict)],
        payload_json=json.dumps(payload, indent=2, sort_keys=True),
        unreadable=_payload_and_errors(job) + read.unreadable,
    )
