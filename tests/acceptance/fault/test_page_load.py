"""Scenario 14: page load on `capo-worker run` while a job runs.

`capo-worker run` serves pages and works jobs in one process. Many clients
load `/stats` of a large league (a generated demo league of about 1,200
players) for as long as a slowed stats job runs; a second worker, serving
another queue, rescues whatever lease expires, as any other worker would.
Promise: page rendering cannot starve the worker: its heartbeats keep the
job's lease (sampled from the database, it never expires), so the job is
completed on its first attempt and never rescued.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from capo_worker.league.demo import SIZES, generate_league
from tests.acceptance.fault.figures import Figures
from tests.acceptance.fault.harness import (
    SLOW_FUNCTION,
    environment,
    insert_stats_jobs,
    instrument_stats,
    percentile,
    start_server,
    start_worker,
    stop_all,
    stranded,
)
from tests.support.db import query, scalar
from tests.support.leagues import load_league, run_stats_sequentially
from tests.support.processes import Process
from tests.support.waiting import wait_for

LEASE_SECONDS = 5


@dataclass(frozen=True)
class Plan:
    run: str
    clients: int
    jobs: int  # one after another, each slowed by DELAY_MS, all under load
    delay_ms: int


PLANS = [
    pytest.param(Plan("quick", 30, 1, 8000), id="quick"),
    pytest.param(Plan("long", 60, 3, 10000), id="long", marks=pytest.mark.slow),
]


class PageLoad:
    """Client threads loading a page again and again until stopped."""

    def __init__(self, url: str, clients: int) -> None:
        self.url = url
        self.latencies: list[float] = []
        self.failures = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._client, daemon=True) for _ in range(clients)]

    def _client(self) -> None:
        with httpx.Client(timeout=120) as client:
            while not self._stop.is_set():
                began = time.monotonic()
                try:
                    ok = client.get(self.url).status_code == 200
                except httpx.HTTPError:
                    ok = False
                with self._lock:
                    if ok:
                        self.latencies.append(time.monotonic() - began)
                    else:
                        self.failures += 1

    def __enter__(self) -> PageLoad:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(180)


@pytest.mark.parametrize("plan", PLANS)
def test_page_load_cannot_cost_the_worker_its_lease(
    db_url: str,
    start: Callable[..., Process],
    record_figures: Callable[[Figures], Path],
    plan: Plan,
) -> None:
    league = generate_league(SIZES["large"])
    load_league(db_url, league)
    as_of = league.as_of.isoformat() if league.as_of else None
    assert not any(run_stats_sequentially(db_url, as_of).values())
    instrument_stats(db_url, {SLOW_FUNCTION: plan.delay_ms})
    env = environment(db_url)
    server, url = start_server(start, db_url, "run", JOB_LEASE_SECONDS=str(LEASE_SECONDS))
    page = httpx.get(f"{url}/stats", timeout=60)
    assert page.status_code == 200
    # The big league's page: its all-time table holds hundreds of players (its top shown).
    assert int(re.findall(r"Show all (\d+)", page.text)[-1]) > 500
    # Claims only from a queue of its own; rescues expired leases of every queue.
    rescuer = start_worker(start, db_url, "rescuer", QUEUE_NAME="rescue-only")
    gaps: list[float] = []
    expired_samples = 0
    job_ids: list[str] = []
    with PageLoad(f"{url}/stats", plan.clients) as load:
        for _ in range(plan.jobs):
            (job_id,) = insert_stats_jobs(db_url, 1)
            job_ids.append(job_id)
            seen: list[float] = []

            def beat(job_id: str = job_id, seen: list[float] = seen) -> bool:
                nonlocal expired_samples
                status, at, expired = query(
                    db_url,
                    "SELECT status, extract(epoch FROM heartbeat_at)::float8, "
                    "lease_expires_at < now() FROM background_job_status WHERE id = %s",
                    job_id,
                )[0]
                if at is not None and (not seen or at != seen[-1]):
                    seen.append(at)
                expired_samples += bool(expired)
                return status in ("completed", "failed")

            wait_for(beat, plan.delay_ms / 1000 + 120, "the job to end under page load", 0.2)
            gaps.extend(b - a for a, b in itertools.pairwise(seen))
    assert stop_all([server, rescuer]) == [0, 0]

    rows = query(
        db_url,
        "SELECT status, attempts, attempt_errors FROM background_job_status "
        "WHERE id = ANY(%s::uuid[])",
        job_ids,
    )
    # Completed on the first attempt: the lease never expired, nothing was rescued.
    assert [(s, a, e) for s, a, e in rows] == [("completed", 1, [])] * plan.jobs, rows
    assert expired_samples == 0
    assert load.latencies, f"no page was served ({load.failures} failures)"
    assert stranded(db_url) == 0
    players = scalar(db_url, "SELECT count(*) FROM players")
    record_figures(
        Figures(
            scenario="page-load",
            run=plan.run,
            load=f"{plan.clients} clients loading /stats ({players:,} players) "
            f"during {plan.jobs} job(s) of +{plan.delay_ms / 1000:g} s",
            faults="page rendering competing with the worker in one process",
            jobs_in=plan.jobs,
            jobs_completed=sum(1 for s, *_ in rows if s == "completed"),
            lost=0,
            duplicated_at_once=None,
            stranded=stranded(db_url),
            recovery="n/a (no lease lost)",
            details={
                "pages served": len(load.latencies),
                "page failures": load.failures,
                "page time": f"median {percentile(load.latencies, 50):.2f} s, "
                f"p95 {percentile(load.latencies, 95):.2f} s, "
                f"max {max(load.latencies):.2f} s",
                "heartbeat interval seen in the database": f"max {max(gaps):.1f} s "
                f"(every {LEASE_SECONDS / 3:.1f} s expected; lease {LEASE_SECONDS} s)"
                if gaps
                else "n/a",
                "samples of the job row with its lease expired": expired_samples,
                "jobs rescued (by a second worker watching)": 0,
            },
            environment=env,
        )
    )
