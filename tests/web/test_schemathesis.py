"""Schemathesis against /openapi.json of a real `capo-worker run`: every operation fuzzed,
no 5xx, every response as the schema says, auth enforced (its `ignored_auth` check)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.processes import Process, process_env, processes
from tests.web.helpers import ADMIN_KEY, free_port, http_ok, insert_job, wait_for

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[str]:
    for _ in range(3):  # material for the stateful phase: failed jobs to look up and retry
        insert_job(db_url, status="failed", attempts=3, error="boom")
    port = free_port()
    env = process_env(db_url, PORT=str(port), ADMIN_API_KEY=ADMIN_KEY, POLL_INTERVAL_MS="200")
    with processes(tmp_path) as start:
        proc: Process = start(["run"], env, "server")
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: http_ok(f"{url}/healthz") or proc.popen.poll() is not None, 60, "server")
        assert proc.popen.poll() is None, proc.output
        yield url
        assert "Traceback" not in proc.output, proc.output


def test_the_api_honours_its_schema(server: str, tmp_path: Path) -> None:
    # positive_data_acceptance is left out on purpose: a schema-valid tenantId that names
    # no tenant is a 400 by design, and the schema cannot list the tenants.
    result = subprocess.run(
        [
            str(SCHEMATHESIS),
            "run",
            f"{server}/openapi.json",
            "--header",
            f"Authorization: Bearer {ADMIN_KEY}",
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
            str(tmp_path / "report"),
        ],
        capture_output=True,
        text=True,
        timeout=540,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "8/8" in result.stdout  # every operation was selected and tested
