"""May this worker claim jobs? Only while the database's schema is the one its build ships.

When a newer build has migrated the database (rolling deploy), this one
claims nothing more and leaves the upkeep (rescue, prune, cron) to the new
workers: its running jobs finish (their heartbeats go on), new ones go to
the new workers. When the schema is behind (MIGRATE_ON_START off and no migrate yet),
it waits for `capo-worker migrate`. Functions changed by hand are reported,
not a reason to stop: `capo-worker migrate` restores them. The
schema is read again at most every `recheck_seconds`; each change of state
is logged once.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import psycopg

from capo_worker.migrate import Build, SchemaStatus, schema_status

log = logging.getLogger("capo_worker.worker")

RECHECK_SECONDS = 15.0


class SchemaGate:
    def __init__(
        self, *, recheck_seconds: float = RECHECK_SECONDS, build: Build | None = None
    ) -> None:
        self.recheck_seconds = recheck_seconds
        self.build = build
        self.status: SchemaStatus | None = None
        self._checked_at = 0.0

    @property
    def allows_work(self) -> bool:
        """The last check allows upkeep (rescue, prune, cron); true until the first check."""
        return self.status is None or self.status.usable

    async def may_claim(self, conn: psycopg.AsyncConnection[Any]) -> bool:
        now = time.monotonic()
        if self.status is None or now - self._checked_at >= self.recheck_seconds:
            status = await schema_status(conn, build=self.build)
            self._checked_at = now
            self._log_change(self.status, status)
            self.status = status
        return self.status.usable

    @staticmethod
    def _log_change(before: SchemaStatus | None, after: SchemaStatus) -> None:
        if before is not None and before.describe() == after.describe():
            return
        if not after.usable:
            log.warning("Not claiming jobs: %s", after.describe())
        elif before is not None and not before.usable:
            log.info("Claiming jobs again: %s", after.describe())
        elif after.state == "modified":
            log.warning("%s", after.describe())
