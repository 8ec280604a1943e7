"""Scenario 3: the worker and the web service start before their database is up.

Promise: they do not exit; each logs one clear line per retry (where it is
connecting, with the password hidden, and why it failed), backs off, and
starts by itself once the database comes up: migrations applied, the web
service serving, the worker claiming.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.acceptance.fault.figures import Figures
from tests.acceptance.fault.harness import (
    environment,
    http_status,
    launch_server,
    start_worker,
    status_counts,
    stop_all,
)
from tests.acceptance.fault.pgserver import DedicatedPostgres
from tests.support.db import scalar
from tests.support.processes import Process
from tests.support.waiting import wait_for

PASSWORD = "pw-Never-In-Logs-7"
WAITING = "Waiting for the database"


@dataclass(frozen=True)
class Plan:
    run: str
    outage_seconds: float  # from the processes' start to the server's


PLANS = [
    pytest.param(Plan("quick", 6), id="quick"),
    pytest.param(Plan("long", 75), id="long", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("plan", PLANS)
def test_worker_and_web_wait_for_the_database_then_start(
    own_server: DedicatedPostgres,
    start: Callable[..., Process],
    record_figures: Callable[[Figures], Path],
    plan: Plan,
) -> None:
    own_server.create_database("capo_fault", migrated=False)  # the processes migrate it
    own_server.stop()
    # The server trusts local connections: the password is never checked, only carried.
    db_url = own_server.url("capo_fault", password=PASSWORD)
    web, url = launch_server(start, db_url, "web")
    worker = start_worker(start, db_url, "patient")
    began = time.monotonic()

    def waiting(proc: Process, times: int) -> bool:
        return proc.output.count(WAITING) >= times

    wait_for(lambda: waiting(web, 2) and waiting(worker, 2), 60, "both to retry twice")
    time.sleep(max(0.0, plan.outage_seconds - (time.monotonic() - began)))
    assert web.popen.poll() is None and worker.popen.poll() is None
    assert http_status(f"{url}/healthz") is None  # not serving before its database is there
    line = next(ln for ln in worker.output.splitlines() if WAITING in ln)
    assert "postgres:***@/capo_fault" in line and "retrying in" in line, line
    assert "No such file or directory" in line or "Connection refused" in line, line
    down_for = time.monotonic() - began

    own_server.start()
    up = time.monotonic()
    wait_for(lambda: http_status(f"{url}/healthz") == 200, 120, "the web service to serve")
    web_after = time.monotonic() - up
    wait_for(lambda: "Worker patient started" in worker.output, 120, "the worker to start")
    worker_after = time.monotonic() - up
    wait_for(lambda: http_status(f"{url}/readyz") == 200, 120, "ready")
    response = httpx.post(
        f"{url}/api/admin/enqueue-stats-job",
        json={"triggeredBy": "admin", "requestId": str(uuid.uuid4())},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    job_id = response.json()["jobId"]
    wait_for(lambda: status_counts(db_url, [job_id])["completed"] == 1, 60, "the first job")
    job_after = time.monotonic() - up
    migrations = scalar(db_url, "SELECT count(*) FROM capo_schema_migrations")
    assert migrations > 0
    retries = {"web": web.output.count(WAITING), "worker": worker.output.count(WAITING)}
    env = environment(db_url)
    assert stop_all([web, worker]) == [0, 0]
    for proc in (web, worker):
        assert "Traceback" not in proc.output, proc.output[-3000:]
        assert PASSWORD not in proc.output

    record_figures(
        Figures(
            scenario="database-unreachable",
            run=plan.run,
            load="`capo-worker web` + `capo-worker worker`, then 1 job",
            faults=f"database down for the first {down_for:.0f} s",
            jobs_in=1,
            jobs_completed=1,
            lost=0,
            duplicated_at_once=None,
            stranded=0,
            recovery=f"{max(web_after, worker_after):.1f} s (database up to both started)",
            details={
                "retries logged while down": f"web {retries['web']}, worker {retries['worker']}"
                " (backoff 1 s doubling, at most 30 s)",
                "the line": line.split(": ", 1)[1].replace(str(own_server.root), "<tmp>")
                if ": " in line
                else line,
                "database up to web serving": f"{web_after:.1f} s",
                "database up to worker started": f"{worker_after:.1f} s",
                "database up to the first job completed": f"{job_after:.1f} s",
            },
            environment=env,
        )
    )
