"""The nightly cron with three real worker processes: one job per slot, across a restart."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.db import query
from tests.support.waiting import wait_for

EVERY_10_SECONDS = "* * * * * */10"  # croniter's optional sixth field is the second


def start_worker(db_url: str, name: str, log_dir: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "WORKER_ID": name,
        "CRON_SCHEDULE": EVERY_10_SECONDS,
        "CRON_TIMEZONE": "UTC",
        "POLL_INTERVAL_MS": "200",
        "LOG_LEVEL": "DEBUG",
        "SHUTDOWN_GRACE_SECONDS": "5",
    }
    for unset in ("NEXT_PUBLIC_APP_URL", "CACHE_INVALIDATION_URL"):
        env.pop(unset, None)
    log = (log_dir / f"{name}.log").open("ab")
    return subprocess.Popen(
        [str(Path(sys.executable).with_name("capo-worker")), "worker"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=log_dir,
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def workers(db_url: str, tmp_path: Path) -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    procs: dict[str, subprocess.Popen[bytes]] = {}
    yield procs
    for proc in procs.values():
        stop(proc)


def slots_seen(db_url: str) -> dict[str, int]:
    rows = query(
        db_url,
        """SELECT job_payload ->> 'scheduledFor', count(*) FROM background_job_status
           WHERE job_payload ->> 'triggeredBy' = 'cron' GROUP BY 1""",
    )
    return {str(slot): int(n) for slot, n in rows}


def test_three_worker_processes_and_a_restart_give_one_job_per_slot(
    db_url: str, tmp_path: Path, workers: dict[str, subprocess.Popen[bytes]]
) -> None:
    for name in ("cron-w1", "cron-w2", "cron-w3"):
        workers[name] = start_worker(db_url, name, tmp_path)
    wait_for(
        lambda: (
            query(db_url, "SELECT count(*) FROM capo_workers WHERE stopped_at IS NULL")[0][0] == 3
        ),
        90,
        "three workers to start",
    )
    [(all_up,)] = query(db_url, "SELECT now()")

    def a_slot_after(moment: dt.datetime) -> str | None:
        later = [s for s in slots_seen(db_url) if dt.datetime.fromisoformat(s) > moment]
        return max(later) if later else None

    # A slot boundary passes while all three run.
    first = wait_for(lambda: a_slot_after(all_up), 90, "a slot while all three run")

    # One worker stops; a slot passes without it; it comes back.
    stop(workers["cron-w1"])
    [(w1_down,)] = query(db_url, "SELECT now()")
    missed = wait_for(lambda: a_slot_after(w1_down), 90, "a slot while w1 is down")
    workers["cron-w1"] = start_worker(db_url, "cron-w1", tmp_path)
    wait_for(
        lambda: b"Cron slot" in (tmp_path / "cron-w1.log").read_bytes().split(b"SIGTERM")[-1],
        90,
        "the restarted worker to look at the schedule",
    )

    seen = slots_seen(db_url)
    assert first in seen and missed in seen
    assert set(seen.values()) == {1}, seen  # never two jobs for one slot
    unique_keys = query(
        db_url,
        "SELECT unique_key, job_payload ->> 'requestId' FROM background_job_status "
        "WHERE job_payload ->> 'triggeredBy' = 'cron'",
    )
    assert all(key == request for key, request in unique_keys)
