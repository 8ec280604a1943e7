"""Configuration: defaults, and one clear line (no traceback) for every mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from capo_worker.config import ConfigError, load_settings


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
