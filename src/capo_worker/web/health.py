"""Probes and metrics: /healthz, /readyz, /metrics (no key needed)."""

from __future__ import annotations

import logging
from typing import Annotated

import psycopg
from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from capo_worker import queue
from capo_worker.migrate import schema_status
from capo_worker.text import one_line
from capo_worker.web.context import WebContext, web_context
from capo_worker.web.db_metrics import QueueSnapshot, exposition, read_snapshot
from capo_worker.web.schemas import Check, Health, Readiness

log = logging.getLogger(__name__)
router = APIRouter(tags=["operations"])

PROBE_TIMEOUT_SECONDS = 5.0


def heartbeat_limit_seconds(lease_seconds: float) -> float:
    """A worker touches its row every lease/3; two leases of silence means none is alive."""
    return max(60.0, 2 * lease_seconds)


@router.get("/healthz", summary="The process is alive", response_model=Health)
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    summary="Database reachable, schema this build's, a worker heard from recently",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Some check failed"}},
)
async def readyz(ctx: Annotated[WebContext, Depends(web_context)]) -> JSONResponse:
    checks: dict[str, Check] = {}
    limit = heartbeat_limit_seconds(ctx.settings.job_lease_seconds)
    try:
        async with ctx.pool.connection(timeout=PROBE_TIMEOUT_SECONDS) as conn:
            await conn.execute("SELECT 1")
            checks["database"] = Check(ok=True, detail="reachable")
            schema = await schema_status(conn)
            checks["migrations"] = Check(ok=schema.usable, detail=schema.describe())
            age = await queue.last_worker_heartbeat_age(conn)
    except psycopg.Error as exc:
        checks["database"] = Check(ok=False, detail=one_line(exc) or type(exc).__name__)
    else:
        if age is None:
            checks["worker"] = Check(ok=False, detail="no running worker has reported")
        else:
            checks["worker"] = Check(
                ok=age <= limit,
                detail=f"last heartbeat {age:.0f}s ago (limit {limit:.0f}s)",
            )
    ready = all(c.ok for c in checks.values()) and len(checks) == 3
    body = Readiness(status="ready" if ready else "not ready", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics(ctx: Annotated[WebContext, Depends(web_context)]) -> Response:
    queue_name = ctx.settings.queue_name
    try:
        async with ctx.pool.connection(timeout=PROBE_TIMEOUT_SECONDS) as conn:
            snapshot = await read_snapshot(conn, queue_name)
    except psycopg.Error as exc:
        log.warning("Metrics: cannot read the job table: %s", one_line(exc))
        snapshot = QueueSnapshot(queue_name, None, None)
    return Response(exposition(snapshot), media_type=CONTENT_TYPE_PLAIN_0_0_4)
