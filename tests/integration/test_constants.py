"""Python's constants (constants.py) and the migrated schema say the same thing."""

from __future__ import annotations

import psycopg

from capo_worker.constants import (
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_QUEUE_NAME,
    DEFAULT_TENANT_ID,
    NOTIFY_CHANNEL,
    STATS_JOB_TYPE,
)
from tests.support.db import query, scalar


def column_default(db_url: str, table: str, column: str) -> str | None:
    value = scalar(
        db_url,
        "SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d "
        "JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum "
        "WHERE d.adrelid = %s::regclass AND a.attname = %s",
        table,
        column,
    )
    return str(value) if value is not None else None


def test_the_default_tenant_is_one_value_everywhere(db_url: str) -> None:
    assert str(scalar(db_url, "SELECT capo_default_tenant()")) == DEFAULT_TENANT_ID
    assert scalar(db_url, "SELECT name FROM tenants WHERE tenant_id = %s", DEFAULT_TENANT_ID)
    defaults = query(
        db_url,
        """SELECT c.relname, pg_get_expr(d.adbin, d.adrelid)
           FROM pg_attribute a
           JOIN pg_class c ON c.oid = a.attrelid
           LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
           WHERE a.attname = 'tenant_id' AND NOT a.attisdropped AND c.relkind = 'r'
             AND c.relnamespace = current_schema()::regnamespace
             AND c.relname NOT IN ('background_job_status', 'tenants')""",
    )
    # capo-worker's own bookkeeping tables (capo_*) are written with an explicit
    # tenant only: no default there, so a write that forgets it fails.
    app_tables = [(name, expr) for name, expr in defaults if not name.startswith("capo_")]
    own_tables = [(name, expr) for name, expr in defaults if name.startswith("capo_")]
    assert len(app_tables) >= 15
    assert {expr for _, expr in app_tables} == {"capo_default_tenant()"}, app_tables
    assert {expr for _, expr in own_tables} <= {None}, own_tables


def test_the_job_table_defaults_are_the_python_ones(db_url: str) -> None:
    table = "background_job_status"
    assert column_default(db_url, table, "queue_name") == f"'{DEFAULT_QUEUE_NAME}'::text"
    assert column_default(db_url, table, "job_type") == f"'{STATS_JOB_TYPE}'::text"
    assert column_default(db_url, table, "max_attempts") == str(DEFAULT_MAX_ATTEMPTS)


def test_a_queued_row_notifies_the_channel_the_workers_listen_on(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as listener:
        listener.execute(f"LISTEN {NOTIFY_CHANNEL}")
        with psycopg.connect(db_url, autocommit=True) as app:  # inserts as the web app does
            app.execute("INSERT INTO background_job_status (job_payload) VALUES ('{}')")
        notes = [n for n in listener.notifies(timeout=5.0, stop_after=1)]
    assert [(n.channel, n.payload) for n in notes] == [(NOTIFY_CHANNEL, DEFAULT_QUEUE_NAME)]
