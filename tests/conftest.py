"""Test fixtures: a real PostgreSQL and a fresh, migrated database per test.

TEST_DATABASE_URL, when set, names a database on a server where the tests may
create and drop databases; otherwise the suite starts an embedded PostgreSQL
in a temporary directory. Each test gets its own database cloned from a
template that was migrated once per session.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from capo_worker.db import create_database, drop_database, temporary_server
from capo_worker.migrate import migrate
from tests.support.db import fresh_test_database

FIXTURES = Path(__file__).parent / "fixtures"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", help="also run the long scenarios")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="long scenario: run with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """A connection string to a maintenance database of the test server."""
    given = os.environ.get("TEST_DATABASE_URL")
    if given:
        yield given
        return
    with temporary_server("capo-test-pg-") as url:
        yield url


@pytest.fixture(scope="session")
def template_db(server_url: str) -> Iterator[str]:
    """Name of a database with every migration applied, cloned by `db_url`."""
    name = f"capo_tpl_{os.getpid()}"
    drop_database(server_url, name)
    url = create_database(server_url, name)
    asyncio.run(migrate(url))
    yield name
    drop_database(server_url, name)


@pytest.fixture
def db_url(server_url: str, template_db: str) -> Iterator[str]:
    """A fresh migrated database for one test."""
    with fresh_test_database(server_url, template_db) as url:
        yield url


@pytest.fixture
def empty_db_url(server_url: str) -> Iterator[str]:
    """A fresh database with no migration applied."""
    name = f"capo_e_{uuid.uuid4().hex[:12]}"
    url = create_database(server_url, name)
    yield url
    drop_database(server_url, name)
