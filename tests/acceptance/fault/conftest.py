"""Fixtures of the fault scenarios: processes, a server of the test's own, figures."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.acceptance.fault.figures import Figures
from tests.acceptance.fault.pgserver import DedicatedPostgres
from tests.support.processes import Process, processes


@pytest.fixture
def own_server() -> Iterator[DedicatedPostgres]:
    """An embedded PostgreSQL only this test uses, so it may stop and start it.

    With TEST_DATABASE_URL the suite runs against a shared server that must
    never be restarted; the scenarios that need their own server already ran
    on the embedded run (`.ci/run` does both), so they are skipped there.
    """
    if os.environ.get("TEST_DATABASE_URL"):
        pytest.skip("restarts a server of its own: runs in the embedded run of the suite")
    server = DedicatedPostgres()
    try:
        server.init()
        yield server
    finally:
        server.close()


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., Process]]:
    """Start capo-worker processes; all are stopped (SIGTERM, then SIGKILL) at the end."""
    with processes(tmp_path) as factory:
        yield factory


@pytest.fixture
def record_figures(request: pytest.FixtureRequest) -> Callable[[Figures], Path]:
    """Write a scenario's figures (call it after the assertions: only passing runs count)."""
    started = time.monotonic()

    def record(figures: Figures) -> Path:
        figures.duration_seconds = round(time.monotonic() - started, 1)
        figures.test = request.node.nodeid
        return figures.write()

    return record
