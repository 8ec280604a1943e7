"""A job as the admin page shows it: labels, durations, results and cache outcome."""

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


def duration_text(job: Job) -> str:
    if job.started_at is None:
        return "N/A"
    if job.completed_at is None or job.completed_at < job.started_at:
        return "In progress..." if job.status == "processing" else "N/A"
    seconds = (job.completed_at - job.started_at).total_seconds()
    return f"{seconds:.1f}s" if seconds < 10 else f"{round(seconds)}s"


def _functions(results: dict[str, Any]) -> list[FunctionLine]:
    lines = []
    for entry in results.get("function_results") or []:
        if not isinstance(entry, dict):
            continue
        details = entry.get("details")
        duration = entry.get("duration")
        lines.append(
            FunctionLine(
                name=str(entry.get("function", "?")),
                status=str(entry.get("status", "?")),
                duration_ms=duration if isinstance(duration, int) else None,
                tags=[str(t) for t in entry.get("cache_tags") or []],
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
    invalidated = [str(t) for t in outcome.get("invalidated_tags") or []]
    failed = [str(t) for t in outcome.get("failed_tags") or []]
    attempts = len(outcome.get("attempts") or [])
    if outcome.get("success"):
        summary = f"{len(invalidated)} tag(s) invalidated in {attempts} attempt(s)"
        return CacheLine("invalidated", summary, invalidated, failed, attempts)
    summary = f"failed: {outcome.get('error') or 'some tags were not invalidated'}"
    return CacheLine("failed", summary, invalidated, failed, attempts)


def job_view(job: Job, now: dt.datetime | None = None) -> JobView:
    now = now or dt.datetime.now(dt.UTC)
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
        attempt_errors=[e for e in job.attempt_errors if isinstance(e, dict)],
        payload_json=json.dumps(payload, indent=2, sort_keys=True),
    )
