"""What a newcomer at the command line needs: short job ids, the tenant of each job, why a
followed job failed, and help texts that show flags as flags."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from capo_worker.constants import DEFAULT_TENANT_ID
from tests.support.db import execute, query
from tests.support.processes import Process, process_env, processes, run_command
from tests.support.web import TENANT_B, break_function, insert_job

BROKEN = "update_power_ratings"


@pytest.mark.parametrize(
    "command",
    [["enqueue"], ["jobs", "list"], ["jobs", "show"], ["migrate"], ["stats", "run"]],
    ids=lambda c: "-".join(c),
)
def test_help_shows_flags_without_a_type(command: list[str], db_url: str) -> None:
    done = run_command(*command, "--help", db_url=db_url)
    assert done.returncode == 0, done.stderr
    assert "--help" in done.stdout
    assert "<bool>" not in done.stdout


def test_jobs_show_accepts_an_unambiguous_id_prefix(db_url: str) -> None:
    ids = [insert_job(db_url, status="completed") for _ in range(3)]
    target = ids[0]
    prefix = target[:8]  # the admin page's short id
    assert sum(i.startswith(prefix) for i in ids) == 1  # random ids: a clash is 1 in 2**31
    done = run_command("jobs", "show", prefix, db_url=db_url)
    assert done.returncode == 0, done.stderr
    assert target in done.stdout
    assert all(other not in done.stdout for other in ids[1:])


def test_jobs_show_names_the_candidates_of_an_ambiguous_prefix(db_url: str) -> None:
    # Two ids that share their first 8 characters.
    first = "abcdef01-0000-4000-8000-000000000001"
    second = "abcdef01-0000-4000-8000-000000000002"
    for job_id in (first, second):
        execute(
            db_url,
            "INSERT INTO background_job_status (id, job_payload, status) "
            "VALUES (%s, '{}', 'queued')",
            job_id,
        )
    done = run_command("jobs", "show", "abcdef01", db_url=db_url)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "ambiguous" in done.stderr and first in done.stderr and second in done.stderr
    assert "Traceback" not in done.stderr
    unknown = run_command("jobs", "show", "fedcba98", db_url=db_url)
    assert unknown.returncode == 1
    assert "No job whose id starts with fedcba98" in unknown.stderr
    bad = run_command("jobs", "show", "not-an-id!", db_url=db_url)
    assert bad.returncode == 2 and "job id" in bad.stderr


def test_jobs_list_shows_and_filters_by_tenant(db_url: str) -> None:
    execute(db_url, "INSERT INTO tenants (tenant_id, name) VALUES (%s, 'club-b')", TENANT_B)
    home = insert_job(db_url, status="completed")
    away = insert_job(db_url, status="completed")
    execute(db_url, "UPDATE background_job_status SET tenant_id = %s WHERE id = %s", TENANT_B, away)

    everything = run_command("jobs", "list", db_url=db_url)
    assert everything.returncode == 0, everything.stderr
    header = everything.stdout.splitlines()[1]
    assert "tenant" in header
    assert re.search(rf"{away}.*club-b", everything.stdout)
    assert home in everything.stdout

    only_b = run_command("jobs", "list", "--tenant", "club-b", db_url=db_url)
    assert only_b.returncode == 0, only_b.stderr
    assert away in only_b.stdout and home not in only_b.stdout
    by_id = run_command("jobs", "list", "--tenant", DEFAULT_TENANT_ID, db_url=db_url)
    assert home in by_id.stdout and away not in by_id.stdout
    unknown = run_command("jobs", "list", "--tenant", "nobody", db_url=db_url)
    assert unknown.returncode == 2 and "nobody" in unknown.stderr


def test_enqueue_wait_prints_the_error_of_each_attempt(db_url: str, tmp_path: Path) -> None:
    break_function(db_url, BROKEN, "injected failure")
    settings = {"MAX_ATTEMPTS": "2", "RETRY_BACKOFF_SECONDS": "0.2", "CRON_SCHEDULE": "off"}
    with processes(tmp_path) as start:
        worker: Process = start(
            ["worker"], process_env(db_url, POLL_INTERVAL_MS="200", **settings), "worker"
        )
        # The job's max_attempts comes from the enqueuing process's MAX_ATTEMPTS.
        done = run_command(
            "enqueue", "--trigger", "admin", "--wait", db_url=db_url, MAX_ATTEMPTS="2"
        )
    assert done.returncode == 1, done.stdout + done.stderr + worker.output
    [(job_id,)] = query(db_url, "SELECT id::text FROM background_job_status")
    assert f"job {job_id}: failed" in done.stderr
    assert f"error: 1/10 stats functions failed ({BROKEN})" in done.stderr, done.stderr
    assert re.search(r"^attempt 1: 1/10 stats functions failed", done.stderr, re.M)
    assert re.search(r"^attempt 2: 1/10 stats functions failed", done.stderr, re.M)
    assert re.search(rf"^  {BROKEN}: failed - .*injected failure$", done.stderr, re.M)
    assert "Traceback" not in done.stderr


def test_migrate_lists_the_applied_files_when_nothing_is_left_to_apply(db_url: str) -> None:
    done = run_command("migrate", db_url=db_url)
    assert done.returncode == 0, done.stderr
    assert "current" in done.stdout
    names = [str(r[0]) for r in query(db_url, "SELECT name FROM capo_schema_migrations")]
    assert len(names) > 5
    for name in names:
        assert name in done.stdout, name
