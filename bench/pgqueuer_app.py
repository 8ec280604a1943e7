"""The PgQueuer side of the queue benchmark: a factory with one no-op entrypoint.

Workers run it with PgQueuer's own command, `pgq run bench.pgqueuer_app:create`
(with `--batch-size 25` for its documented tuning), reading the database from
BENCH_PGQUEUER_DSN. Each worker's connection is named `bench-pgqueuer`, so the
benchmark can see the workers are up (PgQueuer keeps no table of idle
workers). Like bench/noop_handler.py, the entrypoint appends
"<seq> <wall-clock seconds at start>" to BENCH_PICKUP_LOG when that is set;
the payload is the seq as text.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:  # imported when a worker starts: the benchmark's report needs no PgQueuer
    from pgqueuer import PgQueuer

ENTRYPOINT = "bench_noop"
DSN_ENV = "BENCH_PGQUEUER_DSN"
PICKUP_LOG_ENV = "BENCH_PICKUP_LOG"
APPLICATION_NAME = "bench-pgqueuer"


@contextlib.asynccontextmanager
async def create() -> AsyncIterator[PgQueuer]:
    """The worker's PgQueuer: one autocommit connection, as PgQueuer's examples make it."""
    import psycopg
    from pgqueuer import PgQueuer

    async with await psycopg.AsyncConnection.connect(
        os.environ[DSN_ENV], autocommit=True, application_name=APPLICATION_NAME
    ) as connection:
        pgq = PgQueuer.from_psycopg_connection(connection)
        _add_entrypoint(pgq, _pickup_log())
        yield pgq


def _add_entrypoint(pgq: PgQueuer, pickup_log: TextIO | None) -> None:
    from pgqueuer.models import Job

    @pgq.entrypoint(ENTRYPOINT)
    async def bench_noop(job: Job) -> None:
        started = time.time()
        if pickup_log is not None:
            seq = job.payload.decode() if job.payload else "0"
            pickup_log.write(f"{seq} {started:.6f}\n")


def _pickup_log() -> TextIO | None:
    """BENCH_PICKUP_LOG opened line-buffered, so the benchmark sees each line at once."""
    path = os.environ.get(PICKUP_LOG_ENV)
    return open(path, "a", buffering=1) if path else None
