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

from capo_worker.queue import STATUSES, Job

ERROR_PREVIEW = 120


@dataclass(frozen=True)
class FunctionLine:
    name: str
    status: str
    duration_ms: int | None
    tags: list[str]
    error: str | None
    details: str | None


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


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def unreadable_parts(job: Job) -> list[str]:
    """The parts of a row that are not of the shape capo-worker writes."""
    odd = []
    if not isinstance(job.job_payload, dict):
        odd.append("job_payload")
    if not isinstance(job.attempt_errors, list) or not all(
        isinstance(e, dict) for e in job.attempt_errors
    ):
        odd.append("attempt_errors")
    if job.results is not None and not isinstance(job.results, dict):
        odd.append("results")
    results = _dict(job.results)
    functions = results.get("function_results")
    if functions is not None and not (
        isinstance(functions, list) and all(isinstance(f, dict) for f in functions)
    ):
        odd.append("results.function_results")
    cache = results.get("cache_invalidation")
    if cache is not None and not isinstance(cache, dict):
        odd.append("results.cache_invalidation")
    for key in ("attempts", "invalidated_tags", "failed_tags"):
        value = _dict(cache).get(key)
        if value is not None and not isinstance(value, list):
            odd.append(f"results.cache_invalidation.{key}")
    return odd


def duration_text(job: Job) -> str:
    if job.started_at is None:
        return "N/A"
    if job.completed_at is None or job.completed_at < job.started_at:
        return "In progress..." if job.status == "processing" else "N/A"
    seconds = (job.completed_at - job.started_at).total_seconds()
    return f"{seconds:.1f}s" if seconds < 10 else f"{round(seconds)}s"


def _functions(results: dict[str, Any]) -> list[FunctionLine]:
    lines = []
    for entry in _list(results.get("function_results")):
        if not isinstance(entry, dict):
            continue
        details = entry.get("details")
        duration = entry.get("duration")
        lines.append(
            FunctionLine(
                name=str(entry.get("function", "?")),
                status=str(entry.get("status", "?")),
                duration_ms=duration if isinstance(duration, int) else None,
                tags=[str(t) for t in _list(entry.get("cache_tags"))],
                error=str(entry["error"]) if entry.get("error") else None,
                details=json.dumps(details, sort_keys=True) if details is not None else None,
            )
        )
    return lines


def _cache(results: dict[str, Any]) -> CacheLine | None:
    outcome = results.get("cache_invalidation")
    flag = results.get("cache_invalidation_success")
    if not isinstance(outcome, dict):
        if flag is None:
            return None
        return CacheLine("invalidated" if flag else "failed", "invalidated" if flag else "failed")
    if outcome.get("skipped"):
        return CacheLine("skipped", f"skipped: {outcome.get('reason', 'no reason given')}")
    invalidated = [str(t) for t in _list(outcome.get("invalidated_tags"))]
    failed = [str(t) for t in _list(outcome.get("failed_tags"))]
    attempts = len(_list(outcome.get("attempts")))
    if outcome.get("success"):
        summary = f"{len(invalidated)} tag(s) invalidated in {attempts} attempt(s)"
        return CacheLine("invalidated", summary, invalidated, failed, attempts)
    summary = f"failed: {outcome.get('error') or 'some tags were not invalidated'}"
    return CacheLine("failed", summary, invalidated, failed, attempts)


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
    results = job.results if isinstance(job.results, dict) else {}
    error = job.error_message if job.status != "completed" else None
    waiting = job.status == "queued" and job.run_after is not None and job.run_after > now
    retry_of = payload.get("retryOf")
    return JobView(
        id=job.id,
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
        error_preview=(error[:ERROR_PREVIEW] + "...")
        if error and len(error) > ERROR_PREVIEW
        else error,
        can_retry=job.status == "failed",
        worker=job.locked_by or (str(results["worker_id"]) if results.get("worker_id") else None),
        tenant_id=job.effective_tenant_id,
        functions=_functions(results),
        cache=_cache(results),
        attempt_errors=[e for e in _list(job.attempt_errors) if isinstance(e, dict)],
        payload_json=json.dumps(payload, indent=2, sort_keys=True),
        unreadable=unreadable_parts(job),
    )
