"""A plain 1-second poller like the reference Node.js worker, for the pickup benchmark.

The reference polls for one queued job, runs it, waits one second and polls
again, one job at a time. Taken literally it would fall ever further behind
the benchmark's 50 jobs a second, so this poller drains every queued job on
each tick and then sleeps one second: the reference's best case, where a job
waits only for the next poll. Run as
`python -m bench.reference_poller DSN`; the no-op "handler" appends
"<seq> <wall-clock seconds at start>" to BENCH_PICKUP_LOG.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from types import FrameType

import psycopg
from bench.noop_handler import JOB_TYPE

POLL_SECONDS = 1.0

_CLAIM_ONE = """
UPDATE background_job_status SET status = 'processing', started_at = now()
WHERE id = (
    SELECT id FROM background_job_status
    WHERE status = 'queued' AND job_type = %s
    ORDER BY created_at
    LIMIT 1
    FOR UPDATE SKIP LOCKED
)
RETURNING id, job_payload
"""

_COMPLETE = """
UPDATE background_job_status SET status = 'completed', completed_at = now(), results = '{}'
WHERE id = %s
"""


def main(dsn: str) -> None:
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    path = os.environ.get("BENCH_PICKUP_LOG")
    with (
        psycopg.connect(dsn, autocommit=True) as conn,
        open(path or os.devnull, "a", buffering=1) as log,
    ):
        print("poller ready", flush=True)
        while not stopping:
            while not stopping:
                row = conn.execute(_CLAIM_ONE, (JOB_TYPE,)).fetchone()
                if row is None:
                    break
                job_id, payload = row
                log.write(f"{payload.get('seq')} {time.time():.6f}\n")
                conn.execute(_COMPLETE, (job_id,))
            time.sleep(POLL_SECONDS)


if __name__ == "__main__":
    main(sys.argv[1])
