"""Schema migrations and the schema version the database records.

Two kinds of file, both shipped inside the package:

- versioned: `migrations/NNNN_name.sql`, applied once each, in order, and
  recorded in `capo_schema_migrations`;
- repeatable: `stats/sql/*.sql` (the helpers and the ten stats functions,
  `CREATE OR REPLACE`, so grants and comments survive unless a file calls
  `capo_make_replaceable` to drop a signature that changed), applied after the
  versioned ones, in name order, and again when the file changed or when the
  functions it defines were changed or dropped by hand (each file's installed
  functions are fingerprinted when it is applied and compared at every check).

Every file runs in its own transaction: it is applied whole or not at all.
Tables a file changed are analyzed afterwards, so plans stay good.

The database also records the schema version of the build that migrated it
(`capo_schema_version`; the build's is in schema_version.py, raised by
`make schema` whenever a file changes). A build never migrates a database
whose version is newer than its own, so during a rolling deploy the old
build cannot re-install its functions over the new ones; it reports the
schema as ahead, and its workers claim no jobs (schema_gate.py).

A session-level advisory lock serialises concurrent starts: the second
process waits, then finds nothing left to do.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Literal

import psycopg

from capo_worker import rollback
from capo_worker.schema_version import SCHEMA_VERSION

log = logging.getLogger(__name__)

# Any constant works; it only has to be the same for every capo-worker process.
MIGRATION_LOCK_ID = 7_215_334_019
# How long a file may wait for a table lock (the app's queries hold them too).
LOCK_TIMEOUT_SECONDS = 10.0

# Versioned migrations corrected after they shipped, with the checksums they
# had before: databases that applied an earlier text are not warned about.
# 0003 could not adopt an existing Capo database (no tenant column yet).
EARLIER_CHECKSUMS: dict[str, set[str]] = {
    "0003_stats_outputs.sql": {"306d55471ff2b8f831e9eef0d51cc3f541f8616cd13fa296217903431a65dcd8"},
}

Kind = Literal["versioned", "repeatable"]
# current: the build's schema; modified: the build's, but changed by hand (functions
# replaced or dropped, prepare-rollback's keys); behind: the build has files or a
# version the database lacks; ahead: a newer build migrated the database.
State = Literal["current", "modified", "behind", "ahead"]
CHANGED_BY_HAND = "changed outside capo-worker"

_FUNCTION_NAME = re.compile(
    r"\bCREATE\s+(?:OR\s+REPLACE\s+)?FUNCTION\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(", re.IGNORECASE
)


@dataclass(frozen=True)
class Migration:
    kind: Kind
    name: str  # file name, the key in capo_schema_migrations
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    @property
    def function_names(self) -> tuple[str, ...]:
        """The functions this file creates (in the current schema)."""
        return tuple(dict.fromkeys(_FUNCTION_NAME.findall(self.sql)))


def _read_dir(package: str, kind: Kind) -> list[Migration]:
    files = [f for f in resources.files(package).iterdir() if f.name.endswith(".sql")]
    return [
        Migration(kind, f.name, f.read_text("utf-8")) for f in sorted(files, key=lambda f: f.name)
    ]


def all_migrations() -> list[Migration]:
    return _read_dir("capo_worker.migrations", "versioned") + _read_dir(
        "capo_worker.stats.sql", "repeatable"
    )


def files_checksum(files: list[Migration]) -> str:
    """One checksum over every file: schema_version.py records it with the version."""
    digest = hashlib.sha256()
    for m in files:
        digest.update(f"{m.kind} {m.name} {m.checksum}\n".encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class Build:
    """What a build of capo-worker ships: its schema version and its files."""

    version: int
    files: list[Migration]


@functools.cache
def this_build() -> Build:
    """This package's schema: read once, the files do not change while it runs."""
    return Build(SCHEMA_VERSION, all_migrations())


@dataclass(frozen=True)
class Step:
    """One thing `migrate` would do, and why."""

    name: str  # a file name, or SINGLE_CLUB_KEYS
    reason: str

    @property
    def repairs(self) -> bool:
        """Undoes a change made by hand: only `capo-worker migrate` does it, never a start."""
        return self.reason == CHANGED_BY_HAND or self.name == SINGLE_CLUB_KEYS


SINGLE_CLUB_KEYS = "single-club keys"


@dataclass(frozen=True)
class SchemaStatus:
    build_version: int
    database_version: int  # 0: never recorded (a new database, or one older than versions)
    steps: tuple[Step, ...]

    @property
    def state(self) -> State:
        if self.database_version > self.build_version:
            return "ahead"
        if self.database_version < self.build_version or any(not s.repairs for s in self.steps):
            return "behind"
        return "modified" if self.steps else "current"

    @property
    def usable(self) -> bool:
        """This build may work on the database (claim jobs, be ready)."""
        return self.state in ("current", "modified")

    def describe(self) -> str:
        """One sentence (no final stop) for logs, /readyz and the commands."""
        if self.state == "current":
            return f"Schema version {self.build_version}, current"
        if self.state == "modified":
            changed = ", ".join(f"{s.name} ({s.reason})" for s in self.steps)
            return (
                f"Schema version {self.build_version}, changed by hand: {changed}. "
                "Fix: run capo-worker migrate to restore it"
            )
        if self.state == "ahead":
            return (
                f"The database schema is version {self.database_version}, newer than this "
                f"build's {self.build_version}: a newer capo-worker migrated it, so this build "
                "does not claim jobs or change the schema. Fix: deploy the newer build"
            )
        pending = ", ".join(f"{s.name} ({s.reason})" for s in self.steps) or "the version"
        return (
            f"The database schema is behind this build (database version "
            f"{self.database_version}, this build {self.build_version}; pending: {pending}). "
            "Fix: run capo-worker migrate"
        )


@dataclass(frozen=True)
class AppliedStep:
    name: str
    reason: str
    duration_ms: int


@dataclass
class MigrationReport:
    before: SchemaStatus
    applied: list[AppliedStep] = field(default_factory=list)
    analyzed: list[str] = field(default_factory=list)
    refused: bool = False  # the database is ahead of this build: nothing was done
    dry_run: bool = False

    @property
    def version_after(self) -> int:
        if self.refused or self.dry_run:
            return self.before.database_version
        return max(self.before.database_version, self.before.build_version)


class MigrationError(Exception):
    """A file failed; the message is one line naming it, the cause and what to do."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


# --- reading the database's state ---------------------------------------------------------


@dataclass(frozen=True)
class _Record:
    checksum: str
    fingerprint: str | None


async def _exists(conn: psycopg.AsyncConnection[Any], query: str, *params: Any) -> bool:
    row = await (await conn.execute(query, params or None)).fetchone()
    return bool(row and row[0])


async def _records(conn: psycopg.AsyncConnection[Any]) -> dict[str, _Record]:
    if not await _exists(conn, "SELECT to_regclass('capo_schema_migrations') IS NOT NULL"):
        return {}
    has_fingerprint = await _exists(
        conn,
        """SELECT EXISTS (SELECT FROM pg_attribute
                          WHERE attrelid = 'capo_schema_migrations'::regclass
                            AND attname = 'fingerprint' AND NOT attisdropped)""",
    )
    column = "fingerprint" if has_fingerprint else "NULL"
    rows = await (
        await conn.execute(f"SELECT name, checksum, {column} FROM capo_schema_migrations")
    ).fetchall()
    return {str(name): _Record(str(checksum), fp) for name, checksum, fp in rows}


async def _database_version(conn: psycopg.AsyncConnection[Any]) -> int:
    if not await _exists(conn, "SELECT to_regclass('capo_schema_version') IS NOT NULL"):
        return 0
    row = await (await conn.execute("SELECT max(version) FROM capo_schema_version")).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


_FUNCTIONS = """
SELECT p.proname, p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
       md5(pg_get_functiondef(p.oid))
FROM pg_proc p
WHERE p.prokind = 'f' AND p.pronamespace = current_schema()::regnamespace
  AND p.proname = ANY(%s)
"""


async def _fingerprints(
    conn: psycopg.AsyncConnection[Any], files: list[Migration]
) -> dict[str, str]:
    """Per repeatable file, a digest of the installed functions it defines (every
    overload of each name): a function dropped, replaced or added by hand changes it."""
    repeatable = [m for m in files if m.kind == "repeatable"]
    names = sorted({n for m in repeatable for n in m.function_names})
    rows = await (await conn.execute(_FUNCTIONS, (names,))).fetchall()
    by_name: dict[str, list[str]] = {}
    for name, signature, definition in rows:
        by_name.setdefault(str(name), []).append(f"{signature} {definition}")
    result = {}
    for m in repeatable:
        lines = sorted(line for n in m.function_names for line in by_name.get(n, []))
        result[m.name] = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    return result


def _warn_changed_versioned(files: list[Migration], records: dict[str, _Record]) -> None:
    for m in files:
        record = records.get(m.name)
        if m.kind != "versioned" or record is None or record.checksum == m.checksum:
            continue
        if record.checksum not in EARLIER_CHECKSUMS.get(m.name, set()):
            log.warning("Migration %s changed after it was applied; it is not re-run", m.name)


async def schema_status(
    conn: psycopg.AsyncConnection[Any], *, build: Build | None = None
) -> SchemaStatus:
    """Compare the database with a build (this one by default); changes nothing."""
    build = build or this_build()
    database_version = await _database_version(conn)
    if database_version > build.version:
        return SchemaStatus(build.version, database_version, ())
    records = await _records(conn)
    live = await _fingerprints(conn, build.files)
    steps = []
    for m in build.files:
        record = records.get(m.name)
        if record is None:
            steps.append(Step(m.name, "new"))
        elif m.kind == "repeatable":
            if record.checksum != m.checksum:
                steps.append(Step(m.name, "changed"))
            elif record.fingerprint != live[m.name]:
                steps.append(Step(m.name, CHANGED_BY_HAND))
    if await rollback.single_club_keys(conn):
        steps.append(Step(SINGLE_CLUB_KEYS, "left by prepare-rollback"))
    return SchemaStatus(build.version, database_version, tuple(steps))


@dataclass(frozen=True)
class AppliedFile:
    name: str
    kind: str  # versioned or repeatable
    applied_at: dt.datetime


async def applied_files(conn: psycopg.AsyncConnection[Any]) -> list[AppliedFile]:
    """The files recorded as applied to this database, in the order they run."""
    if not await _exists(conn, "SELECT to_regclass('capo_schema_migrations') IS NOT NULL"):
        return []
    cur = await conn.execute(
        "SELECT name, kind, applied_at FROM capo_schema_migrations "
        "ORDER BY kind <> 'versioned', name"
    )
    return [AppliedFile(str(n), str(k), a) for n, k, a in await cur.fetchall()]


async def pending_migrations(conn: psycopg.AsyncConnection[Any]) -> list[str]:
    """Names of what `migrate` would apply for this build."""
    return [s.name for s in (await schema_status(conn)).steps]


# --- applying ---------------------------------------------------------------------------------

_CREATE_RECORD_TABLES = """
CREATE TABLE IF NOT EXISTS capo_schema_migrations (
    name       text PRIMARY KEY,
    kind       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE capo_schema_migrations ADD COLUMN IF NOT EXISTS fingerprint text;
COMMENT ON COLUMN capo_schema_migrations.fingerprint IS
    'Function files: digest of the functions the file installed; '
    'another value means they were changed by hand.';
CREATE TABLE IF NOT EXISTS capo_schema_version (
    id           boolean PRIMARY KEY DEFAULT true CHECK (id),
    version      integer NOT NULL,
    installed_by text NOT NULL,
    installed_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE capo_schema_version IS
    'The schema version of the newest capo-worker build that migrated this database; '
    'older builds do not migrate it or claim jobs.';
"""

_RECORD_FILE = """
INSERT INTO capo_schema_migrations (name, kind, checksum, fingerprint)
VALUES (%s, %s, %s, %s)
ON CONFLICT (name) DO UPDATE
SET checksum = EXCLUDED.checksum, fingerprint = EXCLUDED.fingerprint, applied_at = now()
"""

# Never lowers the version, even if two builds race.
_RECORD_VERSION = """
INSERT INTO capo_schema_version (id, version, installed_by) VALUES (true, %s, %s)
ON CONFLICT (id) DO UPDATE
SET version = EXCLUDED.version, installed_by = EXCLUDED.installed_by, installed_at = now()
WHERE capo_schema_version.version < EXCLUDED.version
"""

# A digest of each table's columns, indexes and storage: what a file changed.
_TABLE_SHAPES = """
SELECT c.oid::regclass::text,
       md5(concat_ws('|', c.relfilenode,
           (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ','
                              ORDER BY a.attnum)
            FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
           (SELECT string_agg(i.indexrelid::text, ',' ORDER BY i.indexrelid)
            FROM pg_index i WHERE i.indrelid = c.oid)))
FROM pg_class c
WHERE c.relkind IN ('r', 'p') AND c.relnamespace = current_schema()::regnamespace
"""


def _installed_by() -> str:
    try:
        release = version("capo-worker")
    except PackageNotFoundError:
        release = "unknown"
    return f"capo-worker {release} on {socket.gethostname()}"


async def _table_shapes(conn: psycopg.AsyncConnection[Any]) -> dict[str, str]:
    rows = await (await conn.execute(_TABLE_SHAPES)).fetchall()
    return {str(name): str(shape) for name, shape in rows}


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _failure(m: Migration, exc: psycopg.Error, lock_timeout_seconds: float) -> MigrationError:
    if isinstance(exc, psycopg.errors.LockNotAvailable):
        return MigrationError(
            f"Migration {m.name} failed: could not lock a table within "
            f"{lock_timeout_seconds:g} s (another session holds it: the app, a long query or "
            f"another migration). Nothing of {m.name} was applied; run capo-worker migrate "
            "again when the database is quieter.",
            retryable=True,
        )
    return MigrationError(
        f"Migration {m.name} failed: {_cause(exc)}. Nothing of {m.name} was applied; fix the "
        "cause and run capo-worker migrate again."
    )


def _cause(exc: psycopg.Error) -> str:
    """The server's message in one line, with its hint when it gives one."""
    cause = _one_line(exc.diag.message_primary or str(exc)) or type(exc).__name__
    hint = f" (hint: {_one_line(exc.diag.message_hint)})" if exc.diag.message_hint else ""
    return cause + hint


async def _apply_file(
    conn: psycopg.AsyncConnection[Any], m: Migration, lock_timeout_seconds: float
) -> None:
    try:
        async with conn.transaction():
            await conn.execute(
                "SELECT set_config('lock_timeout', %s, true)",
                (f"{int(lock_timeout_seconds * 1000)}ms",),
            )
            await conn.execute(m.sql.encode())
            fingerprint = None
            if m.kind == "repeatable":
                fingerprint = (await _fingerprints(conn, [m]))[m.name]
            await conn.execute(_RECORD_FILE, (m.name, m.kind, m.checksum, fingerprint))
    except psycopg.Error as exc:
        raise _failure(m, exc, lock_timeout_seconds) from None


async def apply_migrations(
    conn: psycopg.AsyncConnection[Any],
    *,
    build: Build | None = None,
    dry_run: bool = False,
    repair: bool = True,
    lock_timeout_seconds: float = LOCK_TIMEOUT_SECONDS,
    on_applied: Callable[[AppliedStep], None] | None = None,
) -> MigrationReport:
    """Bring the database to this build's schema; `conn` must be autocommit.

    A database ahead of the build is left alone (`refused`). With `dry_run`,
    only the plan is returned (`before.steps`). Without `repair` (start-up),
    changes made by hand stay. `on_applied` hears of each step as soon as it
    is committed.
    """
    build = build or this_build()
    if dry_run:
        return MigrationReport(await schema_status(conn, build=build), dry_run=True)
    await conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_ID,))
    try:
        before = await schema_status(conn, build=build)
        report = MigrationReport(before)
        if before.state == "ahead":  # not even our own record tables are touched
            report.refused = True
            return report
        try:
            await conn.execute(_CREATE_RECORD_TABLES.encode())
        except psycopg.Error as exc:
            raise MigrationError(
                f"Cannot create capo-worker's record tables: {_cause(exc)}. Fix: connect as a "
                "role that may create tables in this schema (DATABASE_URL)."
            ) from None
        _warn_changed_versioned(build.files, await _records(conn))
        shapes = await _table_shapes(conn)
        try:
            versioned = {m.name for m in build.files if m.kind == "versioned"}
            first = [s for s in before.steps if s.name in versioned]
            await _apply_steps(conn, build, report, first, lock_timeout_seconds, on_applied)
            # The versioned files may have touched functions: plan the rest afresh, and
            # restore what they changed even where hand-made changes would be kept.
            repair = repair or bool(first)
            rest = [
                s for s in (await schema_status(conn, build=build)).steps if repair or not s.repairs
            ]
            await _apply_steps(conn, build, report, rest, lock_timeout_seconds, on_applied)
        finally:
            # Statistics for what the committed files changed, even if a later one failed.
            after = await _table_shapes(conn)
            report.analyzed = sorted(t for t, shape in after.items() if shapes.get(t) != shape)
            if report.analyzed:
                await conn.execute(f"ANALYZE {', '.join(report.analyzed)}".encode())
        if build.version > before.database_version:
            await conn.execute(_RECORD_VERSION, (build.version, _installed_by()))
        return report
    finally:
        await conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_ID,))


async def _apply_steps(
    conn: psycopg.AsyncConnection[Any],
    build: Build,
    report: MigrationReport,
    steps: list[Step],
    lock_timeout_seconds: float,
    on_applied: Callable[[AppliedStep], None] | None,
) -> None:
    by_name = {m.name: m for m in build.files}
    for step in steps:
        started = time.perf_counter()
        if step.name == SINGLE_CLUB_KEYS:
            try:
                await rollback.drop_single_club_keys(conn)
            except psycopg.Error as exc:
                raise MigrationError(
                    f"Dropping the single-club keys failed: {_cause(exc)}. Nothing was "
                    "dropped; fix the cause and run capo-worker migrate again."
                ) from None
        else:
            await _apply_file(conn, by_name[step.name], lock_timeout_seconds)
        elapsed = round((time.perf_counter() - started) * 1000)
        applied = AppliedStep(step.name, step.reason, elapsed)
        report.applied.append(applied)
        log.info("Applied %s (%s) in %d ms", step.name, step.reason, elapsed)
        if on_applied is not None:
            on_applied(applied)


async def migrate(url: str, **options: Any) -> MigrationReport:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        return await apply_migrations(conn, **options)
