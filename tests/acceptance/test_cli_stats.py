"""`capo-worker stats run` as a subprocess against a test database."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest

from capo_worker.stats.registry import STATS_FUNCTIONS
from tests.support.db import execute, query
from tests.support.golden import compare_folder, report
from tests.support.leagues import golden_dir, load_fixture
from tests.support.processes import run_command as capo_worker

NAMES = [f.name for f in STATS_FUNCTIONS]


@pytest.fixture
def tiny_db(db_url: str) -> str:
    load_fixture(db_url, "tiny")
    return db_url


def run_json(*args: str, db_url: str) -> tuple[int, dict[str, Any]]:
    done = capo_worker("stats", "run", "--json", *args, db_url=db_url)
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout)


def test_table_output_lists_every_function(tiny_db: str) -> None:
    done = capo_worker("stats", "run", "--as-of", "2026-11-28", db_url=tiny_db)
    assert done.returncode == 0, done.stderr
    for name in NAMES:
        line = next(line for line in done.stdout.splitlines() if name in line)
        assert "success" in line
    assert "Total" in done.stdout and "graph" in done.stdout
    assert "Traceback" not in done.stderr


def test_json_output_and_golden_numbers(tiny_db: str) -> None:
    code, summary = run_json("--as-of", "2026-11-28", db_url=tiny_db)
    assert code == 0
    assert summary["total_functions"] == 10
    assert summary["successful_functions"] == 10
    assert summary["failed_functions"] == summary["skipped_functions"] == 0
    assert sorted(r["function"] for r in summary["function_results"]) == sorted(NAMES)
    by_name = {r["function"]: r for r in summary["function_results"]}
    assert by_name["update_aggregated_all_time_stats"]["details"] == {"rows": 8}
    assert by_name["update_aggregated_hall_of_fame"]["cache_tags"] == ["hall_of_fame"]
    with psycopg.connect(tiny_db) as conn:
        diffs = compare_folder(conn, golden_dir("tiny"))
    assert all(d.ok for d in diffs), report(diffs)


def test_sequential(tiny_db: str) -> None:
    done = capo_worker("stats", "run", "--as-of", "2026-11-28", "--sequential", db_url=tiny_db)
    assert done.returncode == 0, done.stderr
    assert "(sequential)" in done.stdout


def test_only_runs_the_named_functions(tiny_db: str) -> None:
    code, summary = run_json(
        "--only", "all_time_stats", "--only", "update_aggregated_hall_of_fame", db_url=tiny_db
    )
    assert code == 0
    assert [r["function"] for r in summary["function_results"]] == [
        "update_aggregated_all_time_stats",
        "update_aggregated_hall_of_fame",
    ]
    counts = query(
        tiny_db,
        """SELECT (SELECT count(*) FROM aggregated_all_time_stats),
                  (SELECT count(*) FROM aggregated_hall_of_fame),
                  (SELECT count(*) FROM aggregated_season_stats),
                  (SELECT count(*) FROM aggregated_match_report)""",
    )
    assert counts == [(8, 6, 0, 0)]


def test_empty_database_succeeds_with_notes(db_url: str) -> None:
    code, summary = run_json(db_url=db_url)
    assert code == 0
    notes = {r["function"]: r.get("details", {}).get("note") for r in summary["function_results"]}
    assert "No matches found" in notes["update_aggregated_match_report_cache"]


def test_failing_function_gives_exit_1(tiny_db: str) -> None:
    # A config value the importer would refuse, written behind its back.
    execute(
        tiny_db,
        "INSERT INTO app_config (config_key, config_value) VALUES (%s, %s)",
        "games_required_for_hof",
        "lots",
    )
    code, summary = run_json("--as-of", "2026-11-28", db_url=tiny_db)
    assert code == 1
    by_name = {r["function"]: r for r in summary["function_results"]}
    assert by_name["update_aggregated_all_time_stats"]["status"] == "failed"
    assert "invalid input syntax" in by_name["update_aggregated_all_time_stats"]["error"]
    # The hall of fame reads the all-time table: skipped, and it says why.
    assert by_name["update_aggregated_hall_of_fame"]["status"] == "skipped"
    assert by_name["update_aggregated_recent_performance"]["status"] == "success"
    done = capo_worker("stats", "run", db_url=tiny_db)
    assert done.returncode == 1
    assert "failed" in done.stdout and "skipped" in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--as-of", "2026-13-01"], "--as-of '2026-13-01' is not a date (YYYY-MM-DD)"),
        (["--as-of", "yesterday"], "--as-of 'yesterday' is not a date (YYYY-MM-DD)"),
        (["--only", "nonsense"], "unknown stats function 'nonsense'; known: "),
        (["--tenant", "nobody"], "unknown tenant 'nobody'"),
    ],
)
def test_bad_options_give_one_clear_line(db_url: str, args: list[str], message: str) -> None:
    done = capo_worker("stats", "run", *args, db_url=db_url)
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(message)


def test_as_of_warns_that_it_writes_the_live_tables_and_records_the_day(tiny_db: str) -> None:
    done = capo_worker("stats", "run", "--as-of", "2026-03-01", db_url=tiny_db)
    assert done.returncode == 0, done.stderr
    warning = " ".join(done.stderr.split())
    assert "Warning: --as-of 2026-03-01 writes the live tables." in warning
    assert "/stats will show the league as of 2026-03-01" in warning
    assert query(tiny_db, "SELECT DISTINCT as_of::text FROM capo_stats_computed_for") == [
        ("2026-03-01",)
    ]
    plain = capo_worker("stats", "run", db_url=tiny_db)
    assert plain.returncode == 0 and "Warning" not in plain.stderr
    assert query(tiny_db, "SELECT count(DISTINCT as_of) FROM capo_stats_computed_for") == [(1,)]
    assert query(tiny_db, "SELECT bool_and(as_of = capo_today()) FROM capo_stats_computed_for") == [
        (True,)
    ]
