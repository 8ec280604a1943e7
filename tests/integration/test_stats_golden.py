"""Parity with the reference: every golden league, every output table, every column."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from capo_worker.db import create_database, drop_database
from tests.support.golden import Golden, compare_table, fetch_rows, golden_tables, report
from tests.support.leagues import PUBLIC_LEAGUES, golden_dir, load_fixture, run_stats_sequentially

TABLES = sorted(g.table for g in golden_tables(golden_dir("tiny")))

# The function that writes each table (cache_metadata is written by all ten).
WRITER = {
    "aggregated_half_season_stats": "update_half_and_full_season_stats",
    "aggregated_season_stats": "update_half_and_full_season_stats",
    "aggregated_all_time_stats": "update_aggregated_all_time_stats",
    "aggregated_hall_of_fame": "update_aggregated_hall_of_fame",
    "aggregated_recent_performance": "update_aggregated_recent_performance",
    "aggregated_season_honours": "update_aggregated_season_honours_and_records",
    "aggregated_records": "update_aggregated_season_honours_and_records",
    "aggregated_match_report": "update_aggregated_match_report_cache",
    "aggregated_personal_bests": "update_aggregated_personal_bests",
    "aggregated_player_profile_stats": "update_aggregated_player_profile_stats",
    "aggregated_season_race_data": "update_aggregated_season_race_data",
    "aggregated_performance_ratings": "update_power_ratings",
}


@pytest.fixture(scope="module", params=PUBLIC_LEAGUES)
def league_db(
    request: Any, server_url: str, template_db: str
) -> Iterator[tuple[str, str, dict[str, str | None]]]:
    """A database holding one league after one stats run at its as-of date."""
    name = request.param
    db = f"capo_golden_{name}_{os.getpid()}"
    drop_database(server_url, db)
    url = create_database(server_url, db, template=template_db)
    league = load_fixture(url, name)
    errors = run_stats_sequentially(url, league.as_of.isoformat() if league.as_of else None)
    yield name, url, errors
    drop_database(server_url, db)


@pytest.mark.parametrize("table", TABLES)
def test_table_matches_golden(
    league_db: tuple[str, str, dict[str, str | None]], table: str
) -> None:
    name, url, errors = league_db
    writers = [WRITER[table]] if table in WRITER else list(errors)
    failed = {w: errors[w] for w in writers if errors[w]}
    assert not failed, f"{name}: stats functions failed: {failed}"
    golden = Golden.load(golden_dir(name) / f"{table}.json")
    with psycopg.connect(url) as conn:
        diff = compare_table(golden, fetch_rows(conn, golden), relaxed=True)
    assert diff.ok, f"{name}:\n{report([diff])}"
