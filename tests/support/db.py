"""A test's look into its database: one statement at a time, autocommit; fresh databases."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg

from capo_worker.db import create_database, drop_database


def query(db_url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """The rows of one statement; without params, '%' in it is taken literally."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        return conn.execute(sql.encode(), params or None).fetchall()


def execute(db_url: str, sql: str, *params: Any) -> int:
    """Run one statement (or a whole SQL file, without params); the rows it touched."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        return conn.execute(sql.encode(), params or None).rowcount


def scalar(db_url: str, sql: str, *params: Any) -> Any:
    rows = query(db_url, sql, *params)
    return rows[0][0] if rows else None


@contextlib.contextmanager
def fresh_test_database(server_url: str, template_db: str) -> Iterator[str]:
    """A fresh migrated database, copied from the template; dropped afterwards."""
    name = f"capo_t_{uuid.uuid4().hex[:12]}"
    url = create_database(server_url, name, template=template_db)
    try:
        yield url
    finally:
        drop_database(server_url, name)
