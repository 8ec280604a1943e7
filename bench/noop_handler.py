"""The queue benchmark's no-op job type, registered only when the benchmark asks for it.

bench/queue.py starts capo-worker processes with
JOB_HANDLER_MODULES=bench.noop_handler; the product's default registry never
contains this job type. When BENCH_PICKUP_LOG names a file, each run appends
"<seq> <wall-clock seconds at handler start>" to it, where seq is the job
payload's "seq"; the benchmark reads it back to compute pickup latency.
"""

from __future__ import annotations

import os
import time
from typing import TextIO

from capo_worker.handlers import Handler, HandlerRegistry, Job, JobContext, JobOutcome

JOB_TYPE = "bench_noop"
PICKUP_LOG_ENV = "BENCH_PICKUP_LOG"


class PickupLog:
    """Appends one line per handler start; line-buffered so a reader sees it at once."""

    def __init__(self, path: str) -> None:
        self._file: TextIO = open(path, "a", buffering=1)  # noqa: SIM115 (lives with the process)

    def record(self, seq: object, started: float) -> None:
        self._file.write(f"{seq} {started:.6f}\n")


def make_handler(pickup_log: PickupLog | None) -> Handler:
    async def noop(job: Job, ctx: JobContext) -> JobOutcome:
        started = time.time()
        if pickup_log is not None:
            pickup_log.record(job.job_payload.get("seq"), started)
        return JobOutcome(True)

    return noop


def register(registry: HandlerRegistry) -> None:
    path = os.environ.get(PICKUP_LOG_ENV)
    handler = make_handler(PickupLog(path) if path else None)
    registry.register(JOB_TYPE, handler)
