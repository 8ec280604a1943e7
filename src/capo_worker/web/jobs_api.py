"""`/api/admin/background-jobs`: list, inspect and retry jobs."""

from __future__ import annotations

import logging
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from capo_worker import queue
from capo_worker.job_row import Status, Trigger
from capo_worker.tenants import UnknownTenantError, resolve_tenant
from capo_worker.web.context import WebContext, web_context
from capo_worker.web.errors import ApiError
from capo_worker.web.schemas import (
    AUTH_ERRORS,
    WRITE_ERRORS,
    ErrorBody,
    JobDetail,
    JobList,
    JobOut,
    RetryAccepted,
)
from capo_worker.web.security import require_admin

log = logging.getLogger(__name__)
router = APIRouter(
    prefix="/api/admin/background-jobs", tags=["jobs"], dependencies=[Depends(require_admin)]
)

MAX_LIMIT = 500
MAX_OFFSET = 1_000_000
MAX_TENANT = 200

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Invalid parameter; `field` names it"},
    **AUTH_ERRORS,
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No job with this id"},
}

JobId = Annotated[
    str, Path(description="The job's id (a UUID).", json_schema_extra={"format": "uuid"})
]


def _job_id(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ApiError(
            400, f"Invalid id: {value[:60]!r} is not a job id (UUID)", "Invalid request", field="id"
        ) from None


def _not_found(job_id: str) -> ApiError:
    return ApiError(404, f"No job {job_id}", "Job not found", field="id")


@router.get(
    "",
    summary="Jobs, newest first",
    response_model=JobList,
    responses=_ERRORS,
)
async def list_background_jobs(
    ctx: Annotated[WebContext, Depends(web_context)],
    status: Annotated[Status | None, Query(description="Only jobs in this status.")] = None,
    trigger: Annotated[Trigger | None, Query(description="Only jobs of this trigger.")] = None,
    tenant: Annotated[
        str | None,
        Query(max_length=MAX_TENANT, description="Only this tenant's jobs (name or id)."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="At most this many.")] = 50,
    offset: Annotated[
        int, Query(ge=0, le=MAX_OFFSET, description="Skip this many newer jobs (paging).")
    ] = 0,
) -> JobList:
    async with ctx.pool.connection() as conn:
        try:
            tenant_id = await resolve_tenant(conn, tenant) if tenant else None
        except UnknownTenantError:
            raise ApiError(
                400,
                f"Unknown tenant {(tenant or '')[:60]!r}: give the name or id of an existing "
                "tenant",
                "Invalid request",
                field="tenant",
            ) from None
        jobs = await queue.list_jobs(
            conn, status=status, trigger=trigger, tenant_id=tenant_id, limit=limit, offset=offset
        )
    return JobList(count=len(jobs), jobs=[JobOut.of(j) for j in jobs])


@router.get(
    "/{id}",
    summary="One job: payload, results, every attempt's error",
    response_model=JobDetail,
    responses={**_ERRORS, **_NOT_FOUND},
)
async def get_background_job(
    id: JobId,
    ctx: Annotated[WebContext, Depends(web_context)],
) -> JobDetail:
    job_id = _job_id(id)
    async with ctx.pool.connection() as conn:
        job = await queue.get_job(conn, job_id)
    if job is None:
        raise _not_found(job_id)
    return JobDetail(job=JobOut.of(job))


@router.post(
    "/{id}/retry",
    summary="Queue a failed job again (retry_count + 1, its history kept)",
    response_model=RetryAccepted,
    responses={
        **_ERRORS,
        **WRITE_ERRORS,
        **_NOT_FOUND,
        409: {"model": ErrorBody, "description": "The job is not failed"},
    },
)
async def retry_background_job(
    id: JobId,
    ctx: Annotated[WebContext, Depends(web_context)],
) -> RetryAccepted:
    job_id = _job_id(id)
    async with ctx.pool.connection() as conn:
        retried = await queue.retry(conn, job_id=job_id, extra_attempts=ctx.settings.max_attempts)
        current = None if retried else await queue.get_job(conn, job_id)
    if retried is None:
        if current is None:
            raise _not_found(job_id)
        raise ApiError(
            409,
            f"Job {job_id} is {current.status}; only failed jobs can be retried",
            "Job not retryable",
            field="id",
        )
    log.info("Job %s queued again by hand (retry %d)", job_id, retried.retry_count)
    return RetryAccepted(
        jobId=job_id,
        message=f"Job queued again (retry {retried.retry_count})",
        job=JobOut.of(retried),
    )
