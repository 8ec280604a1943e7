"""Which commands change the schema: `migrate` and, with MIGRATE_ON_START, the services;
read-only commands never do, and say in one line what to run."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import pytest

from capo_worker.migrate import all_migrations
from capo_worker.schema_version import SCHEMA_VERSION
from tests.support.db import execute, query
from tests.support.processes import free_port, process_env, processes, run_command
from tests.support.waiting import wait_for

BEHIND = "run capo-worker migrate"


def tables(url: str) -> int:
    found = query(url, "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace")
    return int(found[0][0])


@pytest.mark.parametrize(
    "args",
    [
        ["jobs", "list"],
        ["jobs", "show", str(uuid.UUID(int=1))],
        ["stats", "run"],
    ],
    ids=["jobs-list", "jobs-show", "stats-run"],
)
def test_read_only_commands_do_not_migrate(empty_db_url: str, args: list[str]) -> None:
    done = run_command(*args, db_url=empty_db_url)
    assert done.returncode == 2, done.stdout + done.stderr
    assert BEHIND in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr
    assert tables(empty_db_url) == 0


def test_check_config_reports_the_schema_without_migrating(empty_db_url: str) -> None:
    done = run_command("check-config", db_url=empty_db_url)
    assert done.returncode == 0, done.stderr
    assert BEHIND in done.stdout
    assert tables(empty_db_url) == 0


def test_check_config_says_when_a_function_was_changed_by_hand(db_url: str) -> None:
    execute(db_url, "DROP FUNCTION update_power_ratings()")
    done = run_command("check-config", db_url=db_url)
    assert "update_power_ratings.sql (changed outside capo-worker)" in done.stdout
    assert BEHIND in done.stdout


def test_migrate_prints_each_file_it_applied(empty_db_url: str) -> None:
    dry = run_command("migrate", "--dry-run", db_url=empty_db_url)
    assert dry.returncode == 0, dry.stderr
    assert tables(empty_db_url) == 0
    done = run_command("migrate", db_url=empty_db_url)
    assert done.returncode == 0, done.stderr
    for m in all_migrations():
        assert f"would apply {m.name}" in dry.stdout
        assert f"applied {m.name}" in done.stdout
    assert f"schema version {SCHEMA_VERSION}" in done.stdout
    again = run_command("migrate", db_url=empty_db_url)
    assert "applied 0001" not in again.stdout and "current" in again.stdout


def test_migrate_reports_a_failing_file_in_one_line(empty_db_url: str) -> None:
    # A players table the migrations cannot adopt: it lacks the name column.
    execute(empty_db_url, "CREATE TABLE players (player_id serial PRIMARY KEY)")
    done = run_command("migrate", db_url=empty_db_url)
    assert done.returncode == 2
    assert done.stderr.strip().startswith("Migration 0002_league_tables.sql failed: ")
    assert '"name" does not exist' in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    applied = [r[0] for r in query(empty_db_url, "SELECT name FROM capo_schema_migrations")]
    assert applied == ["0001_job_queue.sql"]  # atomic per file: 0002 left nothing behind
    assert "applied 0001_job_queue.sql" in done.stdout


def test_migrate_refuses_to_downgrade_a_newer_schema(db_url: str) -> None:
    execute(db_url, "UPDATE capo_schema_version SET version = version + 1")
    done = run_command("migrate", db_url=db_url)
    assert done.returncode == 1
    assert f"version {SCHEMA_VERSION + 1}" in done.stderr and "newer" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_web_does_not_migrate_and_readyz_says_why(empty_db_url: str, tmp_path: Path) -> None:
    port = free_port()
    with processes(tmp_path) as start:
        web = start(["web"], process_env(empty_db_url, PORT=str(port)), "web")
        base = f"http://127.0.0.1:{port}"

        def answered() -> bool:
            try:
                return httpx.get(f"{base}/readyz", timeout=2).status_code == 503
            except httpx.HTTPError:
                return False

        wait_for(answered, 60, "the web service to answer")
        body = httpx.get(f"{base}/readyz", timeout=2).json()
        assert body["checks"]["migrations"]["ok"] is False
        assert BEHIND in body["checks"]["migrations"]["detail"]
        assert BEHIND in web.output
    assert tables(empty_db_url) == 0


def test_a_worker_with_migrate_on_start_off_waits_for_migrate(
    empty_db_url: str, tmp_path: Path
) -> None:
    with processes(tmp_path) as start:
        worker = start(
            ["worker"],
            process_env(empty_db_url, MIGRATE_ON_START="false", POLL_INTERVAL_MS="100"),
            "worker",
        )
        wait_for(lambda: BEHIND in worker.output, 60, "the worker to say the schema is behind")
        assert tables(empty_db_url) == 0
        assert run_command("migrate", db_url=empty_db_url).returncode == 0
        # Then it starts: it claims and completes a job.
        done = run_command("enqueue", "--trigger", "admin", "--wait", db_url=empty_db_url)
        assert done.returncode == 0, done.stdout + done.stderr + worker.output
        assert "Worker" in worker.output and "started" in worker.output


def test_jobs_list_json_on_a_current_schema(db_url: str) -> None:
    done = run_command("jobs", "list", "--json", db_url=db_url)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []
