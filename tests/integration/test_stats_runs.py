"""Whole runs through the worker's StatsRunner: repeatable, safe on tiny leagues, golden in graph
mode, and separate per tenant."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest

from capo_worker.constants import DEFAULT_TENANT_ID
from capo_worker.league.demo import generate_league
from capo_worker.league.model import League, parse_league
from tests.support.db import query
from tests.support.golden import compare_folder, report
from tests.support.leagues import PUBLIC_LEAGUES, golden_dir, load_fixture
from tests.support.statsdb import (
    OUTPUT_TABLES,
    create_tenant,
    delete_tenant_league,
    details,
    dump_outputs,
    failures,
    import_into,
    run_graph,
)

AS_OF = dt.date(2026, 11, 28)
NAMES = ["Ann", "Bob", "Cat", "Dan", "Eve", "Fay", "Gus", "Hal", "Ian", "Jo"]


def one_match_league() -> League:
    """Ten players, one 3-1 match two days before the as-of date."""
    return parse_league(
        {
            "players": [{"player_id": i, "name": n} for i, n in enumerate(NAMES, 1)],
            "matches": [
                {"match_id": 1, "match_date": "2026-11-26", "team_a_score": 3, "team_b_score": 1}
            ],
            "player_matches": [
                {
                    "player_match_id": i,
                    "player_id": i,
                    "match_id": 1,
                    "team": "A" if i <= 5 else "B",
                    "goals": {1: 2, 2: 1, 6: 1}.get(i, 0),
                }
                for i in range(1, 11)
            ],
        }
    )


@pytest.mark.parametrize("league_name", ["spring", "demo"])
def test_running_twice_gives_identical_outputs(db_url: str, league_name: str) -> None:
    if league_name == "demo":
        league = generate_league("capo", seed=4, as_of=AS_OF)
        import_into(db_url, league)
    else:
        league = load_fixture(db_url, league_name)
    first = run_graph(db_url, as_of=league.as_of)
    assert failures(first) == {}
    outputs = dump_outputs(db_url)
    assert all(outputs[t] for t in OUTPUT_TABLES), "every output table has rows"
    second = run_graph(db_url, as_of=league.as_of)
    assert failures(second) == {}
    assert dump_outputs(db_url) == outputs
    assert details(second) == details(first)
    # A sequential run writes the same as the graph.
    third = run_graph(db_url, as_of=league.as_of, sequential=True)
    assert failures(third) == {}
    assert dump_outputs(db_url) == outputs


def test_empty_league_succeeds_with_notes(db_url: str) -> None:
    report_ = run_graph(db_url, as_of=AS_OF)
    assert failures(report_) == {}
    notes = {name: d.get("note") for name, d in details(report_).items()}
    # Where the reference raises, the function succeeds and says what it did.
    assert "No matches found" in (notes["update_aggregated_match_report_cache"] or "")
    assert notes["update_power_ratings"]
    outputs = dump_outputs(db_url)
    for table in (
        "aggregated_half_season_stats",
        "aggregated_all_time_stats",
        "aggregated_hall_of_fame",
        "aggregated_match_report",
        "aggregated_player_profile_stats",
        "aggregated_performance_ratings",
    ):
        assert outputs[table] == [], table
    race = query(
        db_url,
        "SELECT season_year, period_type, player_data::text FROM aggregated_season_race_data "
        "ORDER BY 2",
    )
    assert race == [(2026, "current_half", "[]"), (2026, "whole_season", "[]")]


def test_players_without_matches_succeed(db_url: str) -> None:
    import_into(
        db_url,
        parse_league(
            {
                "players": [{"player_id": 1, "name": "Ann"}, {"player_id": 2, "name": "Bob"}],
                "matches": [],
                "player_matches": [],
            }
        ),
    )
    report_ = run_graph(db_url, as_of=AS_OF)
    assert failures(report_) == {}
    profiles = query(
        db_url,
        """SELECT name, games_played, fantasy_points, yearly_stats::text,
                  teammate_chemistry_all::text
             FROM aggregated_player_profile_stats ORDER BY name""",
    )
    assert profiles == [("Ann", 0, 0, "[]", "[]"), ("Bob", 0, 0, "[]", "[]")]
    recent = query(
        db_url, "SELECT last_5_games::text, last_5_goals FROM aggregated_recent_performance"
    )
    assert recent == [("[]", 0), ("[]", 0)]


def test_one_match_league_succeeds(db_url: str) -> None:
    import_into(db_url, one_match_league())
    report_ = run_graph(db_url, as_of=AS_OF)
    assert failures(report_) == {}
    # The reference fails here with a NOT NULL violation; we write nothing and say why.
    assert "no league mean" in details(report_)["update_power_ratings"]["note"]
    assert query(db_url, "SELECT count(*) FROM aggregated_performance_ratings") == [(0,)]
    report_row = query(
        db_url,
        "SELECT match_id, team_a_score, team_b_score, team_a_scorers FROM aggregated_match_report",
    )
    assert report_row == [(1, 3, 1, "Ann (2), Bob")]
    all_time = query(
        db_url,
        """SELECT player_id, games_played, wins, losses, goals, fantasy_points::text
             FROM aggregated_all_time_stats ORDER BY player_id""",
    )
    assert all_time[0] == (1, 1, 1, 0, 2, "20.0")
    assert all_time[5] == (6, 1, 0, 1, 1, "-10.0")
    hof = query(
        db_url,
        "SELECT category, player_id, value::text FROM aggregated_hall_of_fame ORDER BY id",
    )
    assert hof[0] == ("most_goals", 1, "2.00")


@pytest.mark.parametrize("name", PUBLIC_LEAGUES)
def test_graph_mode_reproduces_the_goldens(db_url: str, name: str) -> None:
    """The worker's runner, in parallel, gives the reference's numbers (its order is enough)."""
    league = load_fixture(db_url, name)
    report_ = run_graph(db_url, as_of=league.as_of, parallelism=10)
    assert failures(report_) == {}
    started = [r.function.name for r in report_.results]
    assert len(started) == 10
    with psycopg.connect(db_url) as conn:
        diffs = compare_folder(conn, golden_dir(name))
    assert all(d.ok for d in diffs), report(diffs)


def test_tenants_are_computed_separately(db_url: str) -> None:
    """A golden league next to another club's league: each tenant's run sees only its rows."""
    tiny = load_fixture(db_url, "tiny")  # default tenant, the golden ids
    other = create_tenant(db_url, "other club")
    demo = generate_league("small", seed=9, as_of=AS_OF)
    assert import_into(db_url, demo, other, renumber=True).id_shift  # ids 1.. were taken
    assert failures(run_graph(db_url, other, as_of=AS_OF)) == {}
    other_outputs = dump_outputs(db_url, other)
    assert failures(run_graph(db_url, as_of=tiny.as_of)) == {}
    assert dump_outputs(db_url, other) == other_outputs
    with psycopg.connect(db_url) as conn:
        diffs = compare_folder(conn, golden_dir("tiny"), tenant_id=DEFAULT_TENANT_ID)
    assert all(d.ok for d in diffs), report(diffs)
    # Deleting one tenant's league leaves the other's alone.
    delete_tenant_league(db_url, other)
    assert all(rows == [] for rows in dump_outputs(db_url, other).values())
    with psycopg.connect(db_url) as conn:
        diffs = compare_folder(conn, golden_dir("tiny"), tenant_id=DEFAULT_TENANT_ID)
    assert all(d.ok for d in diffs), report(diffs)
