"""Schema migrations: ordered SQL files, applied once, under an advisory lock.

Two kinds of file, both shipped inside the package:

- versioned: `migrations/NNNN_name.sql`, applied once each, in order, each in
  its own transaction, and recorded in `capo_schema_migrations`;
- repeatable: `stats/sql/*.sql` (the helpers and the ten stats functions, all
  `CREATE OR REPLACE`), applied after the versioned ones, in name order, and
  again whenever a file's checksum changes.

A session-level advisory lock serialises concurrent starts: the second
process waits, then finds nothing left to do. Re-running is a no-op.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

import psycopg

log = logging.getLogger(__name__)

# Any constant works; it only has to be the same for every capo-worker process.
MIGRATION_LOCK_ID = 7_215_334_019

Kind = Literal["versioned", "repeatable"]


@dataclass(frozen=True)
class Migration:
    kind: Kind
    name: str  # file name, the key in the version table
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def _read_dir(package: str, kind: Kind) -> list[Migration]:
    files = [f for f in resources.files(package).iterdir() if f.name.endswith(".sql")]
    return [
        Migration(kind, f.name, f.read_text("utf-8")) for f in sorted(files, key=lambda f: f.name)
    ]


def all_migrations() -> list[Migration]:
    return _read_dir("capo_worker.migrations", "versioned") + _read_dir(
        "capo_worker.stats.sql", "repeatable"
    )


_CREATE_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS capo_schema_migrations (
    name       text PRIMARY KEY,
    kind       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


async def _applied(conn: psycopg.AsyncConnection[Any]) -> dict[str, str]:
    exists = await (
        await conn.execute("SELECT to_regclass('capo_schema_migrations') IS NOT NULL")
    ).fetchone()
    if not exists or not exists[0]:
        return {}
    rows = await (
        await conn.execute("SELECT name, checksum FROM capo_schema_migrations")
    ).fetchall()
    return {str(name): str(checksum) for name, checksum in rows}


def _pending(applied: dict[str, str], migrations: list[Migration]) -> list[Migration]:
    def is_pending(m: Migration) -> bool:
        if m.kind == "versioned":
            return m.name not in applied
        return applied.get(m.name) != m.checksum

    return [m for m in migrations if is_pending(m)]


async def pending_migrations(conn: psycopg.AsyncConnection[Any]) -> list[str]:
    """Names of the files not yet applied (or changed, for repeatable ones)."""
    return [m.name for m in _pending(await _applied(conn), all_migrations())]


async def apply_migrations(conn: psycopg.AsyncConnection[Any]) -> list[str]:
    """Apply what is pending; return the names applied. `conn` must be autocommit."""
    migrations = all_migrations()
    await conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_ID,))
    try:
        await conn.execute(_CREATE_VERSION_TABLE)
        applied = await _applied(conn)
        for versioned in (m for m in migrations if m.kind == "versioned" and m.name in applied):
            if applied[versioned.name] != versioned.checksum:
                log.warning(
                    "Migration %s changed after it was applied; it is not re-run", versioned.name
                )
        done = []
        for m in _pending(applied, migrations):
            async with conn.transaction():
                await conn.execute(m.sql.encode())
                await conn.execute(
                    """INSERT INTO capo_schema_migrations (name, kind, checksum)
                       VALUES (%s, %s, %s)
                       ON CONFLICT (name) DO UPDATE
                       SET checksum = EXCLUDED.checksum, applied_at = now()""",
                    (m.name, m.kind, m.checksum),
                )
            log.info("Applied migration %s", m.name)
            done.append(m.name)
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_ID,))


async def migrate(url: str) -> list[str]:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        return await apply_migrations(conn)
