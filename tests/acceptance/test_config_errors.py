"""A configuration mistake stops a real capo-worker process with one line naming the variable
and the fix.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import process_env


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"POLL_INTERVAL_MS": "soon"}, "POLL_INTERVAL_MS='soon' is invalid"),
        ({"JOB_LEASE_SECONDS": "1"}, "JOB_LEASE_SECONDS='1' is invalid"),
        ({"MAX_ATTEMPTS": "0"}, "Fix: set MAX_ATTEMPTS to a whole number >= 1"),
        ({"WORKER_CONCURRENCY": "-2"}, "WORKER_CONCURRENCY"),
        ({"SHUTDOWN_GRACE_SECONDS": "x"}, "SHUTDOWN_GRACE_SECONDS"),
        ({"MIGRATE_ON_START": "sometimes"}, "Fix: set MIGRATE_ON_START to true or false"),
        ({"LOG_FORMAT": "xml"}, "Fix: set LOG_FORMAT to text or json"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        ({"DATABASE_URL": "mysql://u:hunter2@h/db"}, "DATABASE_URL='mysql://***"),
        ({"SUPABASE_URL": "https://x.supabase.co"}, "session mode"),
        ({"NEXT_PUBLIC_APP_URL": "http://app:3000"}, "INTERNAL_API_KEY is not"),
        ({"CRON_SCHEDULE": "nightly"}, "CRON_SCHEDULE"),
        ({"CRON_TIMEZONE": "Mars/Olympus"}, "CRON_TIMEZONE"),
        ({"ALLOWED_HOSTS": "capo.example.com, bad/name"}, "Fix: set ALLOWED_HOSTS"),
        ({"PUBLIC_URL": "capo.example.com"}, "Fix: set PUBLIC_URL"),
        ({"FORWARDED_ALLOW_IPS": "proxy.internal"}, "Fix: set FORWARDED_ALLOW_IPS"),
        ({"AUTH_FAILURE_LIMIT": "0"}, "Fix: set AUTH_FAILURE_LIMIT"),
        ({"AUTH_FAILURE_WINDOW_SECONDS": "soon"}, "AUTH_FAILURE_WINDOW_SECONDS"),
        ({"DATABASE_URL": "postgresql://u:hunter2 x@h/db"}, "DATABASE_URL='postgresql://***"),
    ],
)
def test_mistakes_stop_start_up_with_one_line(
    tmp_path: Path, env: dict[str, str], expected: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "capo_worker", "check-config"],
        env=process_env(None, **env),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Configuration error:") and expected in lines[0]
    assert "Traceback" not in result.stderr and "hunter2" not in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("module", "expected"),
    [
        ("tests.support.no_such_handlers", "cannot be imported"),
        ("tests.support.paths", "has no register(registry) function"),
    ],
)
def test_a_handler_module_that_cannot_be_loaded_stops_the_worker_before_the_database(
    tmp_path: Path, module: str, expected: str
) -> None:
    """An extra job type's module (JOB_HANDLER_MODULES) is configuration: named and refused
    in one line, before any database is started (there is none here to start)."""
    result = subprocess.run(
        [sys.executable, "-m", "capo_worker", "worker"],
        env=process_env(
            "postgresql://nobody@127.0.0.1:1/none", JOB_HANDLER_MODULES=module, LOG_LEVEL="INFO"
        ),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"Configuration error: handler module {module!r}")
    assert expected in lines[0] and "JOB_HANDLER_MODULES" in lines[0]
