"""The commands that serve HTTP, as real processes: run, web, demo."""

from __future__ import annotations

import shlex
import signal
import socket
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.processes import Process, free_port, process_env, processes
from tests.support.waiting import wait_for
from tests.support.web import ADMIN_KEY, http_ok


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., Process]]:
    with processes(tmp_path) as factory:
        yield factory


def serve(
    start: Callable[..., Process], db_url: str | None, command: str, **settings: str
) -> tuple[Process, str]:
    port = free_port()
    env = process_env(db_url, PORT=str(port), POLL_INTERVAL_MS="200", **settings)
    proc = start([command], env, command)
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: http_ok(f"{url}/healthz") or proc.popen.poll() is not None, 60, command)
    assert proc.popen.poll() is None, proc.output
    return proc, url


def job_status(url: str, job_id: str, **headers: str) -> str:
    response = httpx.get(f"{url}/api/admin/background-jobs/{job_id}", headers=headers)
    return str(response.json()["job"]["status"])


def test_run_serves_http_and_works_the_queue_then_stops_on_sigterm(
    db_url: str, start: Callable[..., Process]
) -> None:
    proc, url = serve(start, db_url, "run", ADMIN_API_KEY=ADMIN_KEY)
    auth = {"Authorization": f"Bearer {ADMIN_KEY}"}
    response = httpx.post(
        f"{url}/api/admin/enqueue-stats-job",
        json={"triggeredBy": "admin", "requestId": str(uuid.uuid4())},
        headers=auth,
    )
    assert response.status_code == 200
    job_id = response.json()["jobId"]
    wait_for(lambda: job_status(url, job_id, **auth) == "completed", 60, "the job")
    ready = httpx.get(f"{url}/readyz")
    assert ready.status_code == 200, ready.text
    proc.signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    assert "SIGTERM received" in proc.output
    assert ADMIN_KEY not in proc.output


def test_web_alone_serves_but_runs_no_jobs(db_url: str, start: Callable[..., Process]) -> None:
    proc, url = serve(start, db_url, "web")
    response = httpx.post(
        f"{url}/api/admin/enqueue-stats-job",
        json={"triggeredBy": "cron", "requestId": str(uuid.uuid4())},
    )
    assert response.status_code == 200
    assert job_status(url, response.json()["jobId"]) == "queued"
    assert httpx.get(f"{url}/readyz").status_code == 503  # no worker is running
    proc.signal(signal.SIGINT)
    assert proc.wait(30) == 0


def test_no_key_means_loopback_only(db_url: str, start: Callable[..., Process]) -> None:
    env = process_env(db_url, HOST="0.0.0.0", PORT=str(free_port()))
    proc = start(["web"], env, "exposed")
    assert proc.wait(60) == 2
    assert "ADMIN_API_KEY" in proc.output
    assert "Traceback" not in proc.output


def test_a_busy_port_is_one_clear_line(db_url: str, start: Callable[..., Process]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        env = process_env(db_url, PORT=str(taken.getsockname()[1]))
        proc = start(["run"], env, "busy")
        assert proc.wait(60) == 2
    assert "cannot listen on 127.0.0.1" in proc.output
    assert "Traceback" not in proc.output


PSQL_LINE = "Open it with psql while the demo runs: "


def test_demo_starts_everything_and_prints_the_address(
    tmp_path: Path, start: Callable[..., Process]
) -> None:
    port = free_port()
    env = process_env(None, PORT=str(port), CAPO_DATA_DIR=str(tmp_path / "data"))
    proc = start(["demo"], env, "demo")
    address = f"http://127.0.0.1:{port}/admin/info"
    wait_for(lambda: address in proc.output or proc.popen.poll() is not None, 120, "demo")
    assert proc.popen.poll() is None, proc.output
    assert "Loaded a demo league" in proc.output
    url = f"http://127.0.0.1:{port}"

    def completed() -> bool:
        jobs = httpx.get(f"{url}/api/admin/background-jobs").json()["jobs"]
        return bool(jobs) and jobs[0]["status"] == "completed"

    wait_for(completed, 120, "the demo's stats job")
    assert httpx.get(address).status_code == 200
    stats = httpx.get(f"{url}/stats").text
    assert stats.count("<polyline") >= 2
    # The psql command it prints opens the demo's database.
    psql = next(line for line in proc.output.splitlines() if line.startswith(PSQL_LINE))
    matches = subprocess.run(
        [*shlex.split(psql.removeprefix(PSQL_LINE)), "-Atc", "SELECT count(*) FROM matches"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert matches.returncode == 0, matches.stderr
    assert int(matches.stdout) > 0
    proc.signal(signal.SIGTERM)
    assert proc.wait(30) == 0

    again = start(["demo"], env, "demo-again")  # same data directory: the league is kept
    wait_for(lambda: address in again.output or again.popen.poll() is not None, 120, "demo")
    assert "already has a league; keeping it" in again.output
    again.signal(signal.SIGINT)
    assert again.wait(30) == 0


@pytest.mark.parametrize(
    ("trusted", "proxied"),
    [("192.0.2.1", False), ("127.0.0.1", True)],
    ids=["another-proxy", "this-proxy"],
)
def test_forwarded_headers_count_only_from_forwarded_allow_ips_in_dotenv(
    db_url: str, start: Callable[..., Process], tmp_path: Path, trusted: str, proxied: bool
) -> None:
    # The setting comes from .env like every other one (uvicorn alone reads only the environment).
    (tmp_path / ".env").write_text(f"FORWARDED_ALLOW_IPS={trusted}\n")
    proc, url = serve(start, db_url, "web", ADMIN_API_KEY=ADMIN_KEY)
    signed = httpx.post(
        f"{url}/admin/signin",
        data={"key": ADMIN_KEY},
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"},
    )
    assert signed.status_code == 303
    assert ("Secure" in signed.headers["set-cookie"]) is proxied
    proc.signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    assert ('203.0.113.9:0 - "POST /admin/signin' in proc.output) is proxied, proc.output
