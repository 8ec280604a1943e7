"""The job row defined once (job_row.py): the table created by the migrations agrees."""

from __future__ import annotations

import datetime as dt
import re
import types
import typing
from typing import Any

from capo_worker.job_row import COLUMNS, STATUSES, JobColumns, job_columns
from tests.support.db import query, scalar

# Columns only SQL uses: the heartbeat time and the uniqueness key (cron slots).
NOT_READ = {"heartbeat_at", "unique_key"}
PG_TYPES = {
    str: {"text", "uuid"},
    int: {"integer"},
    dt.datetime: {"timestamp with time zone"},
    dict: {"jsonb"},
    list: {"jsonb"},
}


def python_type(annotation: Any) -> tuple[type, bool]:
    """The field's base type and whether it may be None."""
    args = typing.get_args(annotation)
    nullable = isinstance(annotation, types.UnionType) and type(None) in args
    base = next(a for a in args if a is not type(None)) if nullable else annotation
    origin = typing.get_origin(base)
    if origin is typing.Literal:
        return str, nullable
    return (origin or base), nullable


def test_every_field_is_a_column_of_the_right_type_and_nullability(db_url: str) -> None:
    columns = {
        name: (kind, nullable == "YES")
        for name, kind, nullable in query(
            db_url,
            "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
            "WHERE table_name = 'background_job_status'",
        )
    }
    assert set(COLUMNS) | NOT_READ == set(columns)
    hints = typing.get_type_hints(JobColumns)
    for name in COLUMNS:
        base, nullable = python_type(hints[name])
        kind, sql_nullable = columns[name]
        assert kind in PG_TYPES[base], (name, kind, base)
        assert nullable == sql_nullable, (name, "nullable in SQL" if sql_nullable else "NOT NULL")


def test_the_status_check_is_the_status_type(db_url: str) -> None:
    check = str(
        scalar(
            db_url,
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'background_job_status'::regclass AND contype = 'c'",
        )
    )
    assert tuple(re.findall(r"'(\w+)'::text", check)) == STATUSES, check


def test_the_select_list_reads_back_a_row_the_app_inserts(db_url: str) -> None:
    scalar(db_url, "INSERT INTO background_job_status (job_payload) VALUES ('{}') RETURNING id")
    rows = query(db_url, f"SELECT {job_columns()} FROM background_job_status")
    assert len(rows) == 1 and len(rows[0]) == len(COLUMNS)
    assert isinstance(rows[0][COLUMNS.index("id")], str)  # uuids come back as text
