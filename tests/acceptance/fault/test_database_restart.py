"""Scenario 2: PostgreSQL restarts while workers run and jobs are being enqueued.

A `capo-worker run` (web + worker) and a second worker work on a server of
the test's own while a client enqueues over HTTP. The server is stopped
(`pg_ctl stop`, fast or immediate) and started again. Promise: the processes
stay up and reconnect by themselves; /readyz answers 503 while the database
is away and 200 again after; enqueue requests get an error status meanwhile
(never a hang or a dropped connection), and every job accepted before and
after the restart completes, none twice at once, none stranded.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.acceptance.fault.figures import Figures
from tests.acceptance.fault.harness import (
    SLOW_FUNCTION,
    all_completed,
    completed_since,
    environment,
    http_status,
    instrument_stats,
    overlapping_attempts,
    seconds,
    start_server,
    start_worker,
    status_counts,
    stop_all,
    stranded,
)
from tests.acceptance.fault.pgserver import DedicatedPostgres
from tests.support.db import query, scalar
from tests.support.leagues import load_fixture
from tests.support.processes import Process
from tests.support.waiting import wait_for

SETTINGS = {
    "WORKER_CONCURRENCY": "2",
    "STATS_PARALLELISM": "2",
    "RETRY_BACKOFF_SECONDS": "1",
    "MAX_ATTEMPTS": "10",
}


@dataclass(frozen=True)
class Plan:
    run: str
    # One (pg_ctl stop mode, seconds down) per restart; down at least until /readyz said 503.
    restarts: tuple[tuple[str, float], ...]
    between_seconds: float  # running normally before, between and after the restarts


PLANS = [
    pytest.param(Plan("quick", (("fast", 6),), 4), id="quick"),
    # The last outage outlasts the 30 s a request waits for a pooled connection.
    pytest.param(
        Plan("long", (("fast", 10), ("immediate", 10), ("fast", 20), ("immediate", 45)), 15),
        id="long",
        marks=pytest.mark.slow,
    ),
]


@dataclass
class Enqueuer:
    """Enqueues over HTTP in a thread, one request after another, and keeps every answer."""

    url: str
    answers: list[tuple[float, int | str, float]] = field(default_factory=list)  # when, status, s
    errors: list[dict[str, Any]] = field(default_factory=list)  # bodies of the error answers
    accepted: dict[str, str] = field(default_factory=dict)  # request id -> job id
    refused: list[dict[str, Any]] = field(default_factory=list)  # bodies to send again
    stop: threading.Event = field(default_factory=threading.Event)

    def send(self, client: httpx.Client, body: dict[str, Any]) -> int | str:
        began = time.monotonic()
        try:
            response = client.post(f"{self.url}/api/admin/enqueue-stats-job", json=body)
            status: int | str = response.status_code
        except httpx.HTTPError as exc:
            status = type(exc).__name__  # the service did not answer at all
        self.answers.append((began, status, time.monotonic() - began))
        if status == 200:
            self.accepted[body["requestId"]] = response.json()["jobId"]
        elif isinstance(status, int):
            self.errors.append(response.json())
        return status

    def run(self) -> None:
        with httpx.Client(timeout=60) as client:
            while not self.stop.is_set():
                body = {"triggeredBy": "post-match", "requestId": str(uuid.uuid4())}
                if self.send(client, body) != 200:
                    self.refused.append(body)
                self.stop.wait(0.1)

    def send_refused_again(self) -> None:
        """What a client does after an error answer: the same request (same requestId) again."""
        with httpx.Client(timeout=60) as client:
            for body in self.refused:
                deadline = time.monotonic() + 60
                while self.send(client, body) != 200:
                    assert time.monotonic() < deadline, "a request is still refused"
                    time.sleep(0.5)


@pytest.mark.parametrize("plan", PLANS)
def test_workers_and_web_ride_out_a_database_restart(
    own_server: DedicatedPostgres,
    start: Callable[..., Process],
    record_figures: Callable[[Figures], Path],
    plan: Plan,
) -> None:
    db_url = own_server.create_database("capo_fault")
    load_fixture(db_url, "tiny")
    instrument_stats(db_url, {SLOW_FUNCTION: 800})  # jobs are in flight when the server stops
    env = environment(db_url)
    app, url = start_server(start, db_url, "run", name="app", **SETTINGS)
    other = start_worker(start, db_url, "other", **SETTINGS)
    wait_for(lambda: http_status(f"{url}/readyz") == 200, 60, "ready")
    client = Enqueuer(url)
    thread = threading.Thread(target=client.run, daemon=True)
    thread.start()

    outages: list[float] = []
    ready_again: list[float] = []
    first_completion: list[float] = []
    in_flight: list[int] = []
    try:
        time.sleep(plan.between_seconds)
        for mode, outage_seconds in plan.restarts:
            in_flight.append(status_counts(db_url)["processing"])
            stopped = time.monotonic()
            own_server.stop(mode)
            wait_for(lambda: http_status(f"{url}/readyz", timeout=30) == 503, 60, "503")
            time.sleep(max(0.0, outage_seconds - (time.monotonic() - stopped)))
            assert app.popen.poll() is None and other.popen.poll() is None
            own_server.start()
            up = time.monotonic()
            outages.append(up - stopped)
            up_at = scalar(db_url, "SELECT clock_timestamp()")
            wait_for(lambda: http_status(f"{url}/readyz") == 200, 120, "ready again")
            ready_again.append(time.monotonic() - up)
            wait_for(completed_since(db_url, up_at), 120, "a job to complete after the restart")
            first_completion.append(time.monotonic() - up)
            time.sleep(plan.between_seconds)
    finally:
        client.stop.set()
        thread.join(120)
    client.send_refused_again()

    job_ids = sorted(set(client.accepted.values()))
    wait_for(all_completed(db_url, job_ids), 240, "every accepted job to complete")
    assert app.popen.poll() is None and other.popen.poll() is None  # never exited
    # Each lost its LISTEN connection and listens again (it polled meanwhile; the LISTEN
    # connection is retried with a backoff of up to 30 s).
    for proc in (app, other):
        assert proc.output.count("Lost the LISTEN connection") >= len(plan.restarts)

    def listening_again() -> bool:
        return all(p.output.count("Listening on queue") > len(plan.restarts) for p in (app, other))

    wait_for(listening_again, 60, "both to LISTEN again")
    assert stop_all([app, other]) == [0, 0]
    # While the database was away, an enqueue request waited for it (up to the pool's 30 s),
    # then got an error answer naming the database: never a dropped connection or a hang.
    statuses = [status for _, status, _ in client.answers]
    refused = [s for s in statuses if s != 200]
    assert set(refused) <= {500, 503}, f"unexpected answers: {sorted(set(refused), key=str)}"
    for error in client.errors:
        assert error["success"] is False and error["message"] == "Failed to enqueue job", error
        assert "connection" in error["error"], error
    assert stranded(db_url) == 0
    overlaps = overlapping_attempts(db_url)
    assert overlaps == []
    for proc in (app, other):
        assert "Traceback" not in proc.output, proc.output[-3000:]
    counts = status_counts(db_url, job_ids)
    attempt_errors = Counter(
        str(error)
        for (error,) in query(
            db_url,
            """SELECT CASE WHEN e ->> 'error' = 'worker lost' THEN 'worker lost'
                           ELSE 'failed attempt' END
               FROM background_job_status, jsonb_array_elements(attempt_errors) e""",
        )
    )
    slowest = max(took for _, _, took in client.answers)

    record_figures(
        Figures(
            scenario="database-restart",
            run=plan.run,
            load=f"`run` + 1 worker, 2 slots each; {len(statuses)} enqueue requests "
            "(one every 0.1 s)",
            faults=f"{len(plan.restarts)} x restart: pg_ctl stop -m "
            + "/".join(dict.fromkeys(mode for mode, _ in plan.restarts))
            + f", down {seconds(outages)}",
            jobs_in=len(job_ids),
            jobs_completed=counts["completed"],
            lost=len(job_ids) - counts["completed"],
            duplicated_at_once=len(overlaps),
            stranded=stranded(db_url),
            recovery=f"{max(first_completion):.1f} s max (server up to a job completed)",
            details={
                "jobs processing when the server stopped": ", ".join(map(str, in_flight)),
                "server up to /readyz 200": seconds(ready_again),
                "server up to the first job completed": seconds(first_completion),
                "enqueue requests refused while down (sent again later: accepted)": (
                    ", ".join(f"{n} x {s}" for s, n in sorted(Counter(refused).items())) or "none"
                ),
                "slowest enqueue answer (requests wait for the database, up to the "
                "pool's 30 s)": f"{slowest:.1f} s",
                "attempts cut short by the restarts, then retried": (
                    f"{attempt_errors['failed attempt']} failed (a stats function lost its "
                    f"connection), {attempt_errors['worker lost']} rescued (lease expired "
                    "during the outage)"
                ),
                "accepted requests (distinct requestIds)": len(client.accepted),
                "jobs serving them (queued requests coalesce)": len(job_ids),
            },
            environment=env,
        )
    )
