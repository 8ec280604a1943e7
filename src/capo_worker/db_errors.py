"""Database errors as the worker sees them: passing trouble, or refused for good."""

from __future__ import annotations

import psycopg

from capo_worker.text import one_line

# What a database step may raise when the server or the network misbehaves.
DB_ERRORS = (psycopg.Error, OSError)
# SQLSTATE classes of errors that the same statement would meet again: data
# exceptions, constraint violations, program limits (a value too large),
# syntax or access rules, features not supported.
PERMANENT_SQLSTATE_CLASSES = ("22", "23", "54", "42", "0A")


def is_permanent(exc: BaseException) -> bool:
    """A database error that the same statement would meet again: retrying cannot help."""
    sqlstate = getattr(exc, "sqlstate", None)
    return isinstance(sqlstate, str) and sqlstate[:2] in PERMANENT_SQLSTATE_CLASSES


def db_problem(exc: BaseException) -> str:
    """'Database unavailable (...)' for connection trouble, 'Database error (...)' otherwise."""
    lost = isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError, OSError))
    return f"Database {'unavailable' if lost else 'error'} ({one_line(exc)})"
