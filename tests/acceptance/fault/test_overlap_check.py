"""The check behind "never run by two workers at once" finds overlaps when there are some.

The scenarios assert that `overlapping_attempts` returns nothing; this shows
it is not empty by construction: attempts of one job whose intervals
overlap, from committed stats-function calls or from a killed attempt, are
reported; back-to-back attempts and attempts of different jobs are not.
"""

from __future__ import annotations

import uuid

from tests.acceptance.fault.harness import instrument_stats, overlapping_attempts
from tests.support.db import execute

RUN = """INSERT INTO fault_function_runs
             (job_id, function, worker, attempt, started_at, finished_at)
         VALUES (%s, 'f', %s, %s, '2026-11-28 12:00'::timestamptz + make_interval(secs => %s),
                 '2026-11-28 12:00'::timestamptz + make_interval(secs => %s))"""
KILLED = """INSERT INTO fault_killed_attempts (job_id, worker, attempt, started_at, killed_at)
            VALUES (%s, %s, %s, '2026-11-28 12:00'::timestamptz + make_interval(secs => %s),
                    '2026-11-28 12:00'::timestamptz + make_interval(secs => %s))"""


def test_overlapping_attempts_are_found_and_sequential_ones_are_not(db_url: str) -> None:
    instrument_stats(db_url)
    twice, killed_then_rerun, sequential, zombie = (str(uuid.uuid4()) for _ in range(4))
    # Two workers inside one job at once (their calls interleave).
    execute(db_url, RUN, twice, "w1", 1, 0, 2)
    execute(db_url, RUN, twice, "w2", 2, 1, 3)
    # A worker killed at 5 s, the job re-run from 8 s: fine.
    execute(db_url, KILLED, killed_then_rerun, "w1", 1, 0, 5)
    execute(db_url, RUN, killed_then_rerun, "w2", 2, 8, 9)
    # One worker after the other, and a different job at the same time: fine.
    execute(db_url, RUN, sequential, "w1", 1, 0, 1)
    execute(db_url, RUN, sequential, "w1", 1, 1.5, 2)  # same attempt: one interval 0-2
    execute(db_url, RUN, sequential, "w3", 2, 2.5, 3)
    # A killed worker's attempt that another worker's calls overlap: not fine.
    execute(db_url, KILLED, zombie, "w1", 1, 0, 6)
    execute(db_url, RUN, zombie, "w2", 2, 4, 5)
    found = overlapping_attempts(db_url)
    assert sorted(r[0] for r in found) == sorted([twice, zombie])
