"""`POST /api/admin/enqueue-stats-job` (and its GET health document), spec 50 §a."""

from __future__ import annotations

import logging
from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from capo_worker.cache import build_invalidator
from capo_worker.job_row import TRIGGERS
from capo_worker.stats.pipeline import run_and_invalidate
from capo_worker.stats.requests import enqueue_stats
from capo_worker.stats.runner import StatsRunner
from capo_worker.tenants import UnknownTenantError, resolve_tenant
from capo_worker.text import one_line
from capo_worker.timestamps import iso_utc
from capo_worker.web.context import WebContext, web_context
from capo_worker.web.enqueue_request import (
    EnqueueBody,
    InvalidEnqueueRequest,
    parse_enqueue_request,
)
from capo_worker.web.errors import ApiError, error_body
from capo_worker.web.schemas import (
    AUTH_ERRORS,
    WRITE_ERRORS,
    EnqueueAccepted,
    EnqueueHealth,
    ErrorBody,
    SynchronousFailure,
)
from capo_worker.web.security import require_admin

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/admin", tags=["enqueue"], dependencies=[Depends(require_admin)])
PATH = "/enqueue-stats-job"

_REQUEST_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": EnqueueBody.model_json_schema()}},
    }
}


@router.post(
    PATH,
    summary="Enqueue a stats update (or run it now when background jobs are off)",
    response_model=EnqueueAccepted,
    responses={
        **AUTH_ERRORS,
        **WRITE_ERRORS,
        400: {"model": ErrorBody, "description": "Invalid request; `field` names the culprit"},
        413: {"model": ErrorBody, "description": "Body over MAX_REQUEST_BODY_BYTES"},
        503: {"model": ErrorBody, "description": "The database cannot be reached"},
        500: {
            "model": SynchronousFailure | ErrorBody,
            "description": "Database error, or a synchronous run with failed functions",
        },
    },
    openapi_extra=_REQUEST_BODY,
)
async def enqueue_stats_job(
    request: Request,
    ctx: Annotated[WebContext, Depends(web_context)],
) -> Any:
    try:
        parsed = parse_enqueue_request(await request.body())
    except InvalidEnqueueRequest as exc:
        raise ApiError(400, exc.error, exc.message, field=exc.field) from None
    settings = ctx.settings
    background = settings.background_jobs_enabled(parsed.trigger)
    result = None
    try:
        async with ctx.pool.connection() as conn:
            tenant_id = await resolve_tenant(conn, parsed.tenant)
            if background:
                result = await enqueue_stats(conn, parsed, tenant_id, settings)
    except UnknownTenantError:
        raise ApiError(
            400,
            f"Unknown tenantId {parsed.tenant!r}: give the name or id of an existing tenant",
            "Invalid request payload",
            field="tenantId",
        ) from None
    except psycopg.OperationalError as exc:
        log.error("Enqueue failed, database unavailable: %s", one_line(exc))
        error = f"Database unavailable: {_db_message(exc)}"
        raise ApiError(503, error, "Failed to enqueue job") from None
    except psycopg.Error as exc:
        log.error("Enqueue failed: %s", one_line(exc))
        error = f"Database error: {_db_message(exc)}"
        raise ApiError(500, error, "Failed to enqueue job") from None
    if result is None:
        return await _run_now(ctx, parsed.trigger, parsed.request_id, tenant_id)
    log.info(
        "Enqueued job %s for %s trigger%s",
        result.job_id,
        parsed.trigger,
        " (joined an existing job)" if result.deduplicated else "",
        extra={"job_id": result.job_id, "request_id": parsed.request_id},
    )
    return EnqueueAccepted(
        success=True,
        jobId=result.job_id,
        message=f"Stats update job successfully enqueued for {parsed.trigger} trigger",
        deduplicated=result.deduplicated,
        mode="background",
    )


async def _run_now(ctx: WebContext, trigger: str, request_id: str, tenant_id: str) -> Any:
    """The rollback path (background jobs off for the trigger): what the reference's legacy
    route did, the ten functions one after another, then the cache invalidation; nothing
    goes into the job table."""
    log.info(
        "Background jobs are off for %s: running the stats now, one function at a time", trigger
    )
    run = await run_and_invalidate(
        StatsRunner.from_settings(ctx.pool, ctx.settings),
        build_invalidator(ctx.settings),
        tenant_id,
        source=f"sync-{trigger}",
        request_id=request_id,
        sequential=True,
    )
    run.results.mode = "synchronous"
    results = run.results.to_json()
    if run.ok:
        return EnqueueAccepted(
            success=True,
            jobId=None,
            message=f"Stats updated synchronously for {trigger} trigger "
            "(background jobs are off for it)",
            deduplicated=False,
            mode="synchronous",
            results=results,
        )
    body = error_body(run.error or "stats update failed", "Stats update completed with issues")
    return JSONResponse({**body, "mode": "synchronous", "results": results}, status_code=500)


def _db_message(exc: psycopg.Error) -> str:
    return exc.diag.message_primary or one_line(exc) or type(exc).__name__


@router.get(
    PATH,
    summary="Health document of the enqueue endpoint (the seed's GET)",
    response_model=EnqueueHealth,
    responses=AUTH_ERRORS,
)
async def enqueue_health(
    ctx: Annotated[WebContext, Depends(web_context)],
) -> EnqueueHealth:
    return EnqueueHealth(
        status="healthy",
        endpoint="enqueue-stats-job",
        timestamp=iso_utc(),
        supportedTriggers=list(TRIGGERS),
        backgroundJobs={t: ctx.settings.background_jobs_enabled(t) for t in TRIGGERS},
    )
