"""An existing Capo database, as an operator switching from the Node worker has one.

tests/fixtures/reference_db/ holds the app's tables (schema.sql), its job table
as the app's script creates it (job_table.sql) and stand-ins with the exact
signatures of the app's functions (app_functions.sql). `build` applies them to
a new database and can add a league with its ids, the league's golden outputs
in the aggregated tables (as if the app's own functions had run) and the job
history the Node worker and the web app leave behind.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from capo_worker.db import create_database
from tests.support.leagues import golden_dir, league_path
from tests.support.paths import FIXTURES

REFERENCE_DB = FIXTURES / "reference_db"
APP_SCHEMA = ("schema.sql", "job_table.sql")
APP_FUNCTIONS = "app_functions.sql"
STAND_IN_ERROR = "app function stand-in"

# Input tables of a league file and their serial keys.
LEAGUE_TABLES = (
    ("players", "player_id"),
    ("matches", "match_id"),
    ("player_matches", "player_match_id"),
)

# What the Node worker and the web app leave in background_job_status.
NODE_COMPLETED_REQUESTS = ("node-20d", "node-2d", "node-1d")
NODE_FAILED_REQUEST = "node-failed"
NODE_STUCK_REQUEST = "node-stuck"
WEB_QUEUED_REQUESTS = ("web-admin", "web-post-match")


def app_functions_sql(*, or_replace: bool = False) -> str:
    """The app's function definitions; `or_replace` as the app's own SQL files write them."""
    text = (REFERENCE_DB / APP_FUNCTIONS).read_text()
    return text.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION") if or_replace else text


def build(
    admin_url: str,
    name: str,
    *,
    league: str | Path | None = "tiny",
    golden: bool | Path = True,
    jobs: bool = True,
    functions: bool = True,
) -> str:
    """Create database `name` shaped like the app's; return its connection string.

    `league` names a league of tests/fixtures (its goldens when `golden` is true)
    or is a league file (.json or .json.gz; then `golden` is its goldens' folder).
    """
    url = create_database(admin_url, name)
    with psycopg.connect(url, autocommit=True) as conn:
        for file in APP_SCHEMA:
            conn.execute(_without_missing_extensions(conn, (REFERENCE_DB / file).read_text()))
        if functions:
            conn.execute(app_functions_sql().encode())
        with conn.transaction():
            if league:
                load_league(conn, _league_data(league))
                if golden:
                    folder = golden if isinstance(golden, Path) else golden_dir(str(league))
                    load_golden_outputs(conn, folder)
            if jobs:
                load_job_history(conn)
    return url


def _without_missing_extensions(conn: psycopg.Connection[Any], text: str) -> bytes:
    """The app creates uuid-ossp, which no table uses; the embedded server lacks it."""
    available = {r[0] for r in conn.execute("SELECT name FROM pg_available_extensions")}
    lines = [
        line
        for line in text.splitlines()
        if not (m := re.match(r'CREATE EXTENSION IF NOT EXISTS "?([\w-]+)"?;', line))
        or m.group(1) in available
    ]
    return "\n".join(lines).encode()


def _league_data(league: str | Path) -> dict[str, Any]:
    path = league if isinstance(league, Path) else league_path(league)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as file:
        data: dict[str, Any] = json.load(file)
    return data


def load_league(conn: psycopg.Connection[Any], data: dict[str, Any]) -> None:
    """The league's rows with their own ids, the sequences moved past them."""
    for table, key in LEAGUE_TABLES:
        rows = data[table]
        if not rows:
            continue
        columns = sorted({column for row in rows for column in row})
        insert = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
            sql.Identifier(table),
            sql.SQL(", ").join(map(sql.Identifier, columns)),
            sql.SQL(", ").join(sql.Placeholder() * len(columns)),
        )
        with conn.cursor() as cur:
            cur.executemany(insert, [[_value(row.get(c)) for c in columns] for row in rows])
        last_id = sql.SQL("(SELECT max({}) FROM {})").format(
            sql.Identifier(key), sql.Identifier(table)
        )
        conn.execute(
            sql.SQL("SELECT setval(pg_get_serial_sequence({}, {}), {})").format(
                sql.Literal(table), sql.Literal(key), last_id
            )
        )
    for key, value in (data.get("app_config") or {}).items():
        conn.execute(
            "INSERT INTO app_config (config_key, config_value) VALUES (%s, %s)", (key, value)
        )


def _value(value: Any) -> Any:
    return Jsonb(value) if isinstance(value, dict | list) else value


def load_golden_outputs(conn: psycopg.Connection[Any], folder: Path) -> None:
    """The golden rows in the aggregated tables and cache_metadata, as the app wrote them."""
    for path in sorted(folder.glob("*.json")):
        if path.name == "MANIFEST.json":
            continue
        golden = json.loads(path.read_text())
        if not golden["rows"]:
            continue
        columns = sql.SQL(", ").join(map(sql.Identifier, golden["columns"]))
        table = sql.Identifier(golden["table"])
        conn.execute(
            sql.SQL(
                "INSERT INTO {} ({}) SELECT {} FROM jsonb_populate_recordset(NULL::{}, %s)"
            ).format(table, columns, columns, table),
            (Jsonb(golden["rows"]),),
        )


def load_job_history(conn: psycopg.Connection[Any]) -> None:
    """Completed rows in the Node worker's results shape, a failed one, one stuck in
    processing for an hour (its worker died), and two queued by the web app with the
    five columns it sets."""
    node_results = {
        "total_functions": 10,
        "successful_functions": 10,
        "failed_functions": 0,
        "cache_invalidation_success": True,
        "function_results": [
            {"function": f"stats_function_{i}", "success": True, "duration": 120} for i in range(10)
        ],
    }
    for request_id, days in zip(NODE_COMPLETED_REQUESTS, (20, 2, 1), strict=True):
        conn.execute(
            """INSERT INTO background_job_status
                   (job_type, job_payload, status, priority, started_at, completed_at, results,
                    created_at)
               VALUES ('stats_update', %s, 'completed', 1, now() - make_interval(days => %s),
                       now() - make_interval(days => %s) + interval '3 s', %s,
                       now() - make_interval(days => %s))""",
            (
                Jsonb({"triggeredBy": "admin", "requestId": request_id}),
                days,
                days,
                Jsonb(node_results),
                days,
            ),
        )
    conn.execute(
        """INSERT INTO background_job_status
               (job_type, job_payload, status, priority, started_at, completed_at,
                error_message, created_at)
           VALUES ('stats_update', %s, 'failed', 2, now() - interval '3 days',
                   now() - interval '3 days', '1/10 stats functions failed',
                   now() - interval '3 days')""",
        (Jsonb({"triggeredBy": "post-match", "matchId": 1, "requestId": NODE_FAILED_REQUEST}),),
    )
    conn.execute(
        """INSERT INTO background_job_status
               (job_type, job_payload, status, priority, started_at, created_at)
           VALUES ('stats_update', %s, 'processing', 1, now() - interval '1 hour',
                   now() - interval '1 hour')""",
        (Jsonb({"triggeredBy": "cron", "requestId": NODE_STUCK_REQUEST}),),
    )
    for request_id, priority in zip(WEB_QUEUED_REQUESTS, (1, 2), strict=True):
        conn.execute(
            """INSERT INTO background_job_status
                   (job_type, job_payload, status, priority, retry_count)
               VALUES ('stats_update', %s, 'queued', %s, 0)""",
            (
                Jsonb({"triggeredBy": request_id.removeprefix("web-"), "requestId": request_id}),
                priority,
            ),
        )


def table_rows(conn: psycopg.Connection[Any], tables: dict[str, list[str]]) -> dict[str, list[str]]:
    """Every row of each table over the given columns, as sorted JSON texts."""
    rows = {}
    for table, columns in tables.items():
        query = sql.SQL("SELECT to_jsonb(r)::text FROM (SELECT {} FROM {}) r").format(
            sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier(table)
        )
        rows[table] = sorted(r[0] for r in conn.execute(query).fetchall())
    return rows


def table_columns(conn: psycopg.Connection[Any]) -> dict[str, list[str]]:
    """The columns of every table in the current schema."""
    result: dict[str, list[str]] = {}
    for table, column in conn.execute(
        """SELECT c.relname, a.attname FROM pg_class c
           JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
           WHERE c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace
           ORDER BY c.relname, a.attnum"""
    ).fetchall():
        result.setdefault(table, []).append(column)
    return result
