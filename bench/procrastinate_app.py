"""The Procrastinate side of the queue benchmark: an app with one no-op task.

Workers run it with `python -m procrastinate --app bench.procrastinate_app.app
worker`, reading the database from BENCH_PROCRASTINATE_DSN; bench/queue.py
defers with an app of its own from `make_app`. Like bench/noop_handler.py, the
task appends "<seq> <wall-clock seconds at task start>" to BENCH_PICKUP_LOG
when that is set.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported when an app is made: the benchmark's report needs no Procrastinate
    import procrastinate

TASK_NAME = "bench_noop"
DSN_ENV = "BENCH_PROCRASTINATE_DSN"
POOL_SIZE_ENV = "BENCH_PROCRASTINATE_POOL_SIZE"
PICKUP_LOG_ENV = "BENCH_PICKUP_LOG"


def make_app(dsn: str, *, pool_size: int = 4) -> procrastinate.App:
    """An app on `dsn` whose pool holds up to `pool_size` connections, with the no-op task."""
    import procrastinate

    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(
            conninfo=dsn, min_size=1, max_size=max(1, pool_size)
        )
    )
    path = os.environ.get(PICKUP_LOG_ENV)
    pickup_log = open(path, "a", buffering=1) if path else None  # noqa: SIM115

    @app.task(name=TASK_NAME)
    async def bench_noop(seq: int = 0) -> None:
        started = time.time()
        if pickup_log is not None:
            pickup_log.write(f"{seq} {started:.6f}\n")

    return app


def __getattr__(name: str) -> procrastinate.App:
    """`bench.procrastinate_app.app`, the workers' app, made when they ask for it."""
    if name != "app":
        raise AttributeError(name)
    return make_app(os.environ.get(DSN_ENV, ""), pool_size=int(os.environ.get(POOL_SIZE_ENV, "4")))
