"""Schemathesis against /openapi.json of a real `capo-worker run`: every operation fuzzed,
no 5xx, every response as the schema says, auth enforced (its `ignored_auth` check).

The pages are in the schema (tag "pages"): a first run fuzzes everything with
the Bearer key (the admin pages then answer as to a stranger), a second run
fuzzes the pages again with a signed-in session cookie.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from capo_worker.web.security import SESSION_COOKIE
from tests.support.processes import Process, free_port, process_env, processes
from tests.support.waiting import wait_for
from tests.support.web import ADMIN_KEY, http_ok, insert_job

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[str]:
    for _ in range(3):  # material for the stateful phase: failed jobs to look up and retry
        insert_job(db_url, status="failed", attempts=3, error="boom")
    port = free_port()
    # The fuzzed sign-in form sends many wrong keys: a limit that leaves the key usable.
    env = process_env(
        db_url,
        PORT=str(port),
        ADMIN_API_KEY=ADMIN_KEY,
        POLL_INTERVAL_MS="200",
        AUTH_FAILURE_LIMIT="1000",
    )
    with processes(tmp_path) as start:
        proc: Process = start(["run"], env, "server")
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: http_ok(f"{url}/healthz") or proc.popen.poll() is not None, 60, "server")
        assert proc.popen.poll() is None, proc.output
        yield url
        assert "Traceback" not in proc.output, proc.output


def schemathesis(server: str, report: Path, *options: str) -> subprocess.CompletedProcess[str]:
    # positive_data_acceptance is left out on purpose: a schema-valid tenantId that names
    # no tenant is a 400 by design, and the schema cannot list the tenants.
    return subprocess.run(
        [
            str(SCHEMATHESIS),
            "run",
            f"{server}/openapi.json",
            *options,
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
            "--max-examples",
            "60",
            "--seed",
            "1",
            "--report",
            "junit",
            "--report-dir",
            str(report),
        ],
        capture_output=True,
        text=True,
        timeout=540,
        cwd=report.parent,
    )


def test_the_api_and_the_pages_honour_their_schema(server: str, tmp_path: Path) -> None:
    operations = sum(
        len(item) for item in httpx.get(f"{server}/openapi.json").json()["paths"].values()
    )
    assert operations == 20  # 8 API operations, 12 of the pages
    result = schemathesis(
        server, tmp_path / "all", "--header", f"Authorization: Bearer {ADMIN_KEY}"
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert f"{operations}/{operations}" in result.stdout  # every operation was tested


def test_the_pages_honour_their_schema_when_signed_in(server: str, tmp_path: Path) -> None:
    signed = httpx.post(f"{server}/admin/signin", data={"key": ADMIN_KEY})
    cookie = signed.cookies[SESSION_COOKIE]
    result = schemathesis(
        server,
        tmp_path / "pages",
        "--include-tag",
        "pages",
        "--header",
        f"Cookie: {SESSION_COOKIE}={cookie}",
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "Selected: 12/20" in result.stdout and "Tested: 12" in result.stdout
    still = httpx.get(f"{server}/admin/info", cookies={SESSION_COOKIE: cookie})
    assert still.status_code == 200  # no fuzzed sign-out got through without the CSRF token
