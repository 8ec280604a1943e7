"""A request for a stats update, and the one call that puts it in the queue.

Every trigger comes through here: the enqueue endpoint (a validated body,
web/enqueue_request.py), `capo-worker enqueue`, the demo and the cron
scheduler. The payload is stored as the job's `job_payload`; the trigger
decides the priority, the settings the queue and the attempts.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from capo_worker import queue
from capo_worker.constants import STATS_JOB_TYPE
from capo_worker.job_row import Trigger
from capo_worker.timestamps import iso_utc


@dataclass(frozen=True)
class StatsRequest:
    payload: dict[str, Any]  # what the job stores: triggeredBy, requestId, timestamp, ...
    trigger: Trigger
    request_id: str
    tenant: str | None  # a tenant name or id as given; resolved by tenants.resolve_tenant

    @classmethod
    def new(
        cls,
        trigger: Trigger,
        *,
        user_id: str | None = None,
        request_id: str | None = None,
        match_id: int | None = None,
        tenant_id: str | None = None,
        at: dt.datetime | None = None,
        **extra: Any,
    ) -> StatsRequest:
        """A request made here (CLI, demo, cron): a fresh request id unless given; its
        timestamp is `at`, or now."""
        request_id = request_id or str(uuid.uuid4())
        payload: dict[str, Any] = {
            "triggeredBy": trigger,
            "requestId": request_id,
            "timestamp": iso_utc(at),
        }
        if user_id is not None:
            payload["userId"] = user_id
        if match_id is not None:
            payload["matchId"] = match_id
        if tenant_id is not None:
            payload["tenantId"] = tenant_id
        payload.update(extra)
        return cls(payload, trigger, request_id, tenant_id)


def priority_for(trigger: str) -> int:
    """Post-match jobs go first (2); admin, cron and retries are 1, as in the reference."""
    return 2 if trigger == "post-match" else 1


class QueueSettings(Protocol):
    """Where stats jobs go and how often they are tried (Settings has both)."""

    @property
    def queue_name(self) -> str: ...

    @property
    def max_attempts(self) -> int: ...


async def enqueue_stats(
    conn: queue.Conn,
    request: StatsRequest,
    tenant_id: str,
    settings: QueueSettings,
    *,
    unique_key: str | None = None,
) -> queue.EnqueueResult:
    """Store a stats job for `request` (or join the one that already serves it)."""
    return await queue.enqueue(
        conn,
        payload=request.payload,
        request_id=request.request_id,
        tenant_id=tenant_id,
        job_type=STATS_JOB_TYPE,
        priority=priority_for(request.trigger),
        queue_name=settings.queue_name,
        max_attempts=settings.max_attempts,
        unique_key=unique_key,
    )
