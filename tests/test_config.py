"""Configuration: defaults, and one clear line (no traceback) for every mistake."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from capo_worker.config import ConfigError, load_settings
from tests.processes import process_env


def test_defaults_match_the_reference_and_the_issue(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("QUEUE_NAME", "WORKER_ID", "POLL_INTERVAL_MS", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    s = load_settings(env_file=None)
    assert s.queue_name == "stats-update-queue"
    assert (s.poll_interval_ms, s.job_lease_seconds, s.max_attempts) == (1000, 60, 3)
    assert (s.worker_concurrency, s.shutdown_grace_seconds) == (1, 25)
    assert s.worker_id.rsplit("-", 1)[1].isdigit()  # host-pid
    assert s.uses_embedded_database and s.invalidation_url is None


def test_env_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QUEUE_NAME", raising=False)
    env = tmp_path / ".env"
    env.write_text("QUEUE_NAME=from-dotenv\nPOLL_INTERVAL_MS=250\n")
    s = load_settings(env_file=env)
    assert (s.queue_name, s.poll_interval_ms) == ("from-dotenv", 250)


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


def test_config_error_is_a_single_line_in_process() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(env_file=None, worker_concurrency=0)
    assert "\n" not in str(info.value) and "WORKER_CONCURRENCY" in str(info.value)


def test_render_names_the_public_url_unless_public_url_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PUBLIC_URL", raising=False)
    monkeypatch.setenv("RENDER_EXTERNAL_URL", "https://capo-worker.onrender.com")
    assert load_settings(env_file=None).public_url == "https://capo-worker.onrender.com"
    monkeypatch.setenv("PUBLIC_URL", "https://stats.example.com")
    assert load_settings(env_file=None).public_url == "https://stats.example.com"


def test_host_lists_are_read_as_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOWED_HOSTS", " Capo.Example.com , .example.org,")
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "10.0.0.0/8, 192.0.2.7")
    settings = load_settings(env_file=None)
    assert settings.allowed_host_names == ["capo.example.com", ".example.org"]
    assert settings.forwarded_allow_ips == "10.0.0.0/8,192.0.2.7"
