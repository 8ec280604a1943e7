"""Scenario 6: many concurrent enqueue requests over HTTP, a tenth of them repeats.

Clients hammer POST /api/admin/enqueue-stats-job of a real `capo-worker web`
while a worker drains the queue; a tenth of the requests repeat an earlier
request (same requestId and body, as a client retrying after a timeout
would), often while the original is still in flight. Promise: no 5xx; each
distinct request is stored exactly once (its own job, or recorded in the
queued job it joined); every repeat answers with the job of the original;
every job completes.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from capo_worker.constants import DEFAULT_TENANT_ID
from tests.acceptance.fault.figures import Figures
from tests.acceptance.fault.harness import (
    all_completed,
    environment,
    percentile,
    start_server,
    start_worker,
    status_counts,
    stop_all,
    stranded,
)
from tests.support.db import query
from tests.support.leagues import load_fixture
from tests.support.processes import Process
from tests.support.waiting import wait_for

KEY = "admin-key-for-the-load-scenario"
TRIGGERS = ("post-match", "admin", "cron")


@dataclass(frozen=True)
class Plan:
    run: str
    requests: int
    clients: int
    tenants: int


PLANS = [
    pytest.param(Plan("quick", 2000, 50, 5), id="quick"),
    pytest.param(Plan("long", 10000, 100, 20), id="long", marks=pytest.mark.slow),
]


@dataclass
class Answer:
    index: int
    request_id: str
    status: int
    job_id: str | None
    deduplicated: bool | None
    seconds: float


def make_requests(plan: Plan, tenants: list[str]) -> tuple[list[dict[str, Any]], set[int]]:
    """The bodies, in sending order; every tenth repeats an earlier body exactly."""
    rng = random.Random(6)
    bodies: list[dict[str, Any]] = []
    repeats = set()
    for i in range(plan.requests):
        if i % 10 == 9:
            bodies.append(bodies[rng.randrange(i)])
            repeats.add(i)
            continue
        trigger = rng.choice(TRIGGERS)
        body: dict[str, Any] = {
            "triggeredBy": trigger,
            "requestId": str(uuid.uuid4()),
            "tenantId": rng.choice(tenants),
            "userId": f"load-{i}",
        }
        if trigger == "post-match":
            body["matchId"] = i
        bodies.append(body)
    return bodies, repeats


async def send_all(
    url: str, bodies: list[dict[str, Any]], clients: int
) -> tuple[list[Answer], int]:
    """Send every body from `clients` concurrent clients; the answers and the resends.

    Like any HTTP client with keep-alive, a client here may send a request on a
    connection the server is just closing as idle (uvicorn: 5 s), and see it
    closed without an answer. It then sends the same request again, which is
    safe because of the requestId; resends are counted.
    """
    answers: list[Answer] = []
    resent = 0
    next_index = iter(range(len(bodies)))
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    headers = {"Authorization": f"Bearer {KEY}"}
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120, headers=headers) as hc:

        async def post(body: dict[str, Any]) -> httpx.Response:
            nonlocal resent
            for _ in range(4):
                try:
                    return await hc.post("/api/admin/enqueue-stats-job", json=body)
                except (httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError):
                    resent += 1
            return await hc.post("/api/admin/enqueue-stats-job", json=body)

        async def client() -> None:
            for i in next_index:
                began = time.perf_counter()
                response = await post(bodies[i])
                took = time.perf_counter() - began
                data = response.json()
                answers.append(
                    Answer(
                        i,
                        bodies[i]["requestId"],
                        response.status_code,
                        data.get("jobId"),
                        data.get("deduplicated"),
                        took,
                    )
                )

        await asyncio.gather(*(client() for _ in range(clients)))
    return answers, resent


@pytest.mark.parametrize("plan", PLANS)
def test_concurrent_enqueues_store_each_request_once(
    db_url: str,
    start: Callable[..., Process],
    record_figures: Callable[[Figures], Path],
    plan: Plan,
) -> None:
    load_fixture(db_url, "tiny")
    tenants = [DEFAULT_TENANT_ID] + [
        str(r[0])
        for r in query(
            db_url,
            "INSERT INTO tenants (name) SELECT 'club-' || n FROM generate_series(2, %s) n "
            "RETURNING tenant_id",
            plan.tenants,
        )
    ]
    env = environment(db_url)
    web, url = start_server(start, db_url, "web", ADMIN_API_KEY=KEY)
    worker = start_worker(start, db_url, "drain", WORKER_CONCURRENCY="4")
    bodies, repeats = make_requests(plan, tenants)

    began = time.perf_counter()
    answers, resent = asyncio.run(send_all(url, bodies, plan.clients))
    wall = time.perf_counter() - began

    assert len(answers) == plan.requests
    statuses: dict[int, int] = defaultdict(int)
    for a in answers:
        statuses[a.status] += 1
    assert dict(statuses) == {200: plan.requests}, dict(statuses)

    # Every answer for one requestId names the same job; repeats say so.
    by_request: dict[str, set[str | None]] = defaultdict(set)
    for a in answers:
        by_request[a.request_id].add(a.job_id)
    distinct = len(by_request)
    assert distinct == plan.requests - len(repeats)
    assert all(len(jobs) == 1 and None not in jobs for jobs in by_request.values())
    # At most one answer per requestId created a job (a repeat may overtake its original).
    created: dict[str, int] = defaultdict(int)
    for a in answers:
        created[a.request_id] += not a.deduplicated
    assert max(created.values()) <= 1
    overtaken = sum(
        1 for a in answers if a.index in repeats and not a.deduplicated
    )  # the repeat was served first

    # Stored once: one request record each, pointing at its job; each job's payload is its own
    # request's and counts the requests that joined it (the records hold them all).
    recorded = dict(query(db_url, "SELECT request_id, job_id::text FROM background_job_requests"))
    assert recorded == {r: next(iter(jobs)) for r, jobs in by_request.items()}
    per_job = query(
        db_url,
        """SELECT j.job_payload ->> 'requestId', r.job_id IS NOT NULL AND r.job_id = j.id,
                  COALESCE((j.job_payload ->> 'coalescedCount')::int, 0),
                  (SELECT count(*) FROM background_job_requests x WHERE x.job_id = j.id)
           FROM background_job_status j
           LEFT JOIN background_job_requests r ON r.request_id = j.job_payload ->> 'requestId'""",
    )
    assert all(own_recorded for _, own_recorded, _, _ in per_job)
    assert all(joined == requests - 1 for _, _, joined, requests in per_job)
    assert sum(int(requests) for *_, requests in per_job) == len(by_request)
    job_ids = sorted(set(recorded.values()))
    wait_for(all_completed(db_url, job_ids), 300, "every job to complete")
    assert stop_all([web, worker]) == [0, 0]
    assert "Traceback" not in web.output
    counts = status_counts(db_url, job_ids)

    latencies = [a.seconds * 1000 for a in answers]
    record_figures(
        Figures(
            scenario="enqueue-load",
            run=plan.run,
            load=f"{plan.requests:,} requests from {plan.clients} concurrent clients, "
            f"{plan.tenants} tenants, 1 worker draining",
            faults=f"{len(repeats):,} repeats of an earlier requestId",
            jobs_in=len(job_ids),
            jobs_completed=counts["completed"],
            lost=len(job_ids) - counts["completed"],
            duplicated_at_once=None,
            stranded=stranded(db_url),
            recovery="–",
            details={
                "answers": ", ".join(f"{n:,} x {s}" for s, n in sorted(statuses.items())),
                "requests sent again after the connection closed unanswered": resent,
                "requests per second": f"{plan.requests / wall:,.0f}",
                "latency p50 / p95 / p99 / max": " / ".join(
                    f"{percentile(latencies, p):.0f} ms" for p in (50, 95, 99, 100)
                ),
                "distinct requests, each stored once": f"{distinct:,}",
                "repeats answered with the original's job": f"{len(repeats):,} "
                f"({overtaken} overtook their original, which then got the repeat's job)",
                "jobs serving them (a request joins its tenant's queued job)": f"{len(job_ids):,}",
            },
            environment=env,
        )
    )
