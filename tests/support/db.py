"""A test's look into its database: one statement at a time, autocommit."""

from __future__ import annotations

from typing import Any

import psycopg


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
