"""Pydantic models of the API's bodies: they make /openapi.json and shape the answers."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from capo_worker.job_row import COLUMNS, Job, JobColumns, Trigger
from capo_worker.web.job_view import unreadable_parts


class ErrorBody(BaseModel):
    success: Literal[False] = False
    error: str = Field(description="What went wrong, naming the field when one is at fault.")
    message: str = Field(description="A short summary, as in the reference.")
    field: str | None = Field(default=None, description="The offending field or parameter.")


# Answers every /api/admin route may give (documented in /openapi.json).
AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "ADMIN_API_KEY is set and the request lacks it"},
    429: {
        "model": ErrorBody,
        "description": "Too many wrong keys from this address: wait Retry-After seconds",
    },
}
# ...and those that change something.
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {
        "model": ErrorBody,
        "description": "A signed-in page request without its CSRF token, or a request from "
        "another site's page (Origin)",
    },
    415: {"model": ErrorBody, "description": "A body that is not application/json"},
}


class EnqueueAccepted(BaseModel):
    success: bool
    jobId: str | None = Field(
        description="The job serving the request; null when the stats ran synchronously."
    )
    message: str
    deduplicated: bool = Field(
        description="True when the requestId was seen before or the request joined a queued job."
    )
    mode: Literal["background", "synchronous"]
    results: dict[str, Any] | None = Field(
        default=None, description="Synchronous runs only: each function's outcome."
    )


class SynchronousFailure(ErrorBody):
    mode: Literal["synchronous"] = "synchronous"
    results: dict[str, Any]


class EnqueueHealth(BaseModel):
    status: Literal["healthy"]
    endpoint: Literal["enqueue-stats-job"]
    timestamp: str
    supportedTriggers: list[Trigger]
    backgroundJobs: dict[str, bool] = Field(
        description="Per trigger: true when requests are queued, false when run synchronously."
    )


class JobOut(JobColumns):
    """A job row as the API shows it: the columns (job_row.JobColumns), and what they tell."""

    trigger: str | None
    duration_ms: int | None
    unreadable: list[str] = Field(
        default_factory=list,
        description="Parts of the row of a shape capo-worker does not write (edited by hand, "
        "or by another program); they are shown empty.",
    )

    @classmethod
    def of(cls, job: Job) -> JobOut:
        payload = job.job_payload if isinstance(job.job_payload, dict) else {}
        results = job.results if isinstance(job.results, dict) else None
        errors = job.attempt_errors if isinstance(job.attempt_errors, list) else []
        return cls(
            **{
                **{name: getattr(job, name) for name in COLUMNS},
                "job_payload": payload,
                "results": results,
                "attempt_errors": [e for e in errors if isinstance(e, dict)],
            },
            trigger=job.trigger,
            duration_ms=job.duration_ms,
            unreadable=unreadable_parts(job),
        )


class JobList(BaseModel):
    success: Literal[True] = True
    count: int
    jobs: list[JobOut]


class JobDetail(BaseModel):
    success: Literal[True] = True
    job: JobOut


class RetryAccepted(BaseModel):
    success: Literal[True] = True
    jobId: str
    message: str
    job: JobOut


class Health(BaseModel):
    status: Literal["ok"]


class Check(BaseModel):
    ok: bool
    detail: str


class Readiness(BaseModel):
    status: Literal["ready", "not ready"]
    checks: dict[str, Check]
