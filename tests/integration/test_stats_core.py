"""The five core stats functions (spec 20-core-stats) beyond the golden leagues.

Each test builds a small league by hand in a fresh database (NULLs and other
rows the league importer would not write included), runs the functions at a
pinned "today" and checks the stored values against the spec.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import psycopg
import pytest
from psycopg import sql

from capo_worker.constants import DEFAULT_TENANT_ID
from capo_worker.league.model import parse_league
from tests.support.golden import Golden, compare_table, fetch_rows, report
from tests.support.league_rows import (
    add_game,
    add_match,
    add_played,
    add_player,
    add_row,
    call,
    set_config,
)
from tests.support.leagues import golden_dir, league_path, load_fixture, load_league

TODAY = "2026-11-28"
OTHER_TENANT = "00000000-0000-0000-0000-0000000000b2"

CORE = (
    "update_half_and_full_season_stats",
    "update_aggregated_all_time_stats",
    "update_aggregated_hall_of_fame",
    "update_aggregated_recent_performance",
    "update_power_ratings",
)
CORE_TABLES = (
    "aggregated_half_season_stats",
    "aggregated_season_stats",
    "aggregated_all_time_stats",
    "aggregated_hall_of_fame",
    "aggregated_recent_performance",
    "aggregated_performance_ratings",
)
CORE_CACHE_KEYS = {
    ("season_stats", "season_stats"),
    ("half_season_stats", "half_season_stats"),
    ("all_time_stats", "match_result"),
    ("hall_of_fame", "match_result"),
    ("recent_performance", "recent_performance"),
    ("player_power_rating", "function_execution"),
}
# Columns that differ between identical runs: serial ids and now() timestamps.
VOLATILE = {"id", "last_updated", "updated_at"}


# ---------------------------------------------------------------- helpers


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(db_url, autocommit=True) as connection:
        yield connection


def run_core(
    conn: psycopg.Connection[Any], *, tenant: str = DEFAULT_TENANT_ID, as_of: str = TODAY
) -> dict[str, dict[str, Any]]:
    return {fn: call(conn, fn, tenant=tenant, as_of=as_of) for fn in CORE}


def rows(conn: psycopg.Connection[Any], query: str, *params: Any) -> list[tuple[Any, ...]]:
    return conn.execute(query.encode(), params).fetchall()


def add_tenant(conn: psycopg.Connection[Any], tenant: str, name: str) -> None:
    conn.execute("INSERT INTO tenants (tenant_id, name) VALUES (%s, %s)", (tenant, name))


def table_snapshot(
    conn: psycopg.Connection[Any], table: str, tenant: str = DEFAULT_TENANT_ID
) -> list[dict[str, Any]]:
    """Every row of one tenant in `table` as text, without the volatile columns, sorted."""
    found = rows(
        conn,
        f"SELECT to_jsonb(t) FROM {table} t WHERE tenant_id = %s",  # table: one of CORE_TABLES
        tenant,
    )
    cleaned = [{k: v for k, v in r[0].items() if k not in VOLATILE} for r in found]
    return sorted(cleaned, key=lambda r: json.dumps(r, sort_keys=True))


def core_snapshot(
    conn: psycopg.Connection[Any], tenant: str = DEFAULT_TENANT_ID
) -> dict[str, list[dict[str, Any]]]:
    return {t: table_snapshot(conn, t, tenant) for t in CORE_TABLES}


def count(conn: psycopg.Connection[Any], table: str, tenant: str = DEFAULT_TENANT_ID) -> int:
    found = rows(conn, f"SELECT count(*) FROM {table} WHERE tenant_id = %s", tenant)
    return int(found[0][0])


def cache_keys(
    conn: psycopg.Connection[Any], tenant: str = DEFAULT_TENANT_ID
) -> set[tuple[str, str]]:
    found = rows(
        conn, "SELECT cache_key, dependency_type FROM cache_metadata WHERE tenant_id = %s", tenant
    )
    return {(str(k), str(d)) for k, d in found}


def rating_rows(conn: psycopg.Connection[Any]) -> dict[int, tuple[str, ...]]:
    found = rows(
        conn,
        """SELECT player_id, power_rating::text, goal_threat::text, participation::text,
                  weighted_played::text, weighted_available::text, is_qualified::text,
                  power_percentile::text, goal_percentile::text,
                  participation_percentile::text, first_match_date::text
           FROM aggregated_performance_ratings""",
    )
    return {int(r[0]): tuple(str(v) for v in r[1:]) for r in found}


def round_half_up(value: Decimal, places: int) -> str:
    return str(value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


# ---------------------------------------------------------------- empty and new leagues


def test_empty_league_succeeds_and_writes_nothing(conn: psycopg.Connection[Any]) -> None:
    results = run_core(conn)

    assert all(r["rows"] == 0 for r in results.values()), results
    # The reference succeeds on an empty league too; only power ratings explains why
    # it wrote nothing.
    assert "no match" in results["update_power_ratings"]["note"]
    assert all("note" not in results[fn] for fn in CORE if fn != "update_power_ratings")
    assert {t: count(conn, t) for t in CORE_TABLES} == dict.fromkeys(CORE_TABLES, 0)
    assert cache_keys(conn) == CORE_CACHE_KEYS


def test_one_match_league_skips_power_ratings_with_a_note(
    conn: psycopg.Connection[Any],
) -> None:
    for pid, name in ((1, "Ann"), (2, "Ben"), (3, "Cat"), (4, "Dan")):
        add_player(conn, pid, name)
    add_game(conn, 1, "2026-11-26", 3, 1, {1: 2, 2: 1}, {3: 1, 4: 0})
    # A rating left by an earlier run: kept, as the reference never deletes ratings.
    conn.execute(
        """INSERT INTO aggregated_performance_ratings (player_id, power_rating, goal_threat,
               participation, weighted_played, weighted_available, is_qualified)
           VALUES (1, 9.5, 0.5, 80, 4, 5, false)"""
    )
    before = table_snapshot(conn, "aggregated_performance_ratings")

    results = run_core(conn)

    power = results["update_power_ratings"]
    # The reference fails here (NOT NULL violation: no league mean); we succeed.
    assert power["rows"] == 0
    assert "no league mean" in power["note"]
    assert "NOT NULL" in power["note"]
    assert table_snapshot(conn, "aggregated_performance_ratings") == before
    assert ("player_power_rating", "function_execution") in cache_keys(conn)
    assert results["update_half_and_full_season_stats"]["rows"] == 8  # 4 half + 4 season
    assert results["update_aggregated_all_time_stats"]["rows"] == 4
    assert results["update_aggregated_recent_performance"]["rows"] == 4
    assert all("note" not in results[fn] for fn in CORE if fn != "update_power_ratings")


# ---------------------------------------------------------------- NULL handling


def test_null_result_and_flags_worked_example(conn: psycopg.Connection[Any]) -> None:
    """Spec 20 §1.5: a heavy win, a win and a row with result, flags, goals and team NULL."""
    add_player(conn, 1, "Ann")
    add_match(conn, 1, "2026-09-03", 5, 1)
    add_match(conn, 2, "2026-10-01", 3, 2)
    add_match(conn, 3, "2026-11-05", 0, 3)
    add_row(conn, 1, 1, "A", 2, "win", True, False, False)
    add_row(conn, 1, 2, "A", 1, "win", False, False, False)
    add_row(conn, 1, 3, None, None, None, None, None, None)

    run_core(conn)

    half = rows(
        conn,
        """SELECT games_played, wins, draws, losses, goals, heavy_wins, heavy_losses,
                  clean_sheets, win_percentage::text, fantasy_points, points_per_game::text
           FROM aggregated_half_season_stats""",
    )
    # NULL result: a game, no win/draw/loss, and -10 points as a loss (FP_loss).
    assert half == [(3, 2, 0, 0, 3, 1, 0, 0, "66.7", 40, "13.3")]
    season = rows(
        conn,
        """SELECT season_start_date::text, season_end_date::text, games_played, losses,
                  fantasy_points::text, points_per_game::text
           FROM aggregated_season_stats""",
    )
    assert season == [("2026-01-01", "2026-12-31", 3, 0, "40.0", "13.3")]
    all_time = rows(
        conn,
        """SELECT games_played, wins, losses, goals, minutes_per_goal::text,
                  heavy_win_percentage::text, clean_sheet_percentage::text,
                  fantasy_points::text, points_per_game::text
           FROM aggregated_all_time_stats""",
    )
    # All-time scores the NULL result 0 (FP_raw): 30 + 20 + 0 = 50.
    assert all_time == [(3, 2, 0, 3, "60.0", "33.3", "0.0", "50.0", "16.7")]
    recent = rows(conn, "SELECT last_5_games, last_5_goals FROM aggregated_recent_performance")
    assert recent == [
        (
            [
                # team NULL is read as team B: score from B's side, clean sheet when A scored 0.
                {
                    "date": "2026-11-05",
                    "goals": 0,
                    "score": "3-0",
                    "result": "",
                    "heavy_win": False,
                    "heavy_loss": False,
                    "clean_sheet": True,
                },
                {
                    "date": "2026-10-01",
                    "goals": 1,
                    "score": "3-2",
                    "result": "win",
                    "heavy_win": False,
                    "heavy_loss": False,
                    "clean_sheet": False,
                },
                {
                    "date": "2026-09-03",
                    "goals": 2,
                    "score": "5-1",
                    "result": "win",
                    "heavy_win": True,
                    "heavy_loss": False,
                    "clean_sheet": False,
                },
            ],
            3,
        )
    ]


def test_power_ratings_score_a_null_result_as_zero(conn: psycopg.Connection[Any]) -> None:
    """One match today (weight exactly 1), threshold 1, so every number is a fraction."""
    set_config(conn, "performance_qualification_threshold", "1")
    add_player(conn, 1, "Ann")
    add_player(conn, 2, "Ben")
    add_player(conn, 3, "Cat")
    add_player(conn, 4, "Rex", ringer=True)
    add_match(conn, 1, TODAY, 5, 1)
    add_row(conn, 1, 1, "A", 3, "win", True, False, False)  # 30 points
    add_row(conn, 2, 1, "A", None, None, None, None, None)  # 0 points here, not -10
    add_row(conn, 3, 1, "B", 1, "loss", False, True, False)  # -20
    add_row(conn, 4, 1, "B", 0, "loss", False, True, False)  # ringer: rated, not in the mean

    result = call(conn, "update_power_ratings")

    assert result == {"rows": 4}
    mean_f = Decimal(30 + 0 - 20) / 3
    mean_g = Decimal(3 + 0 + 1) / 3

    def shrunk(total: int, mean: Decimal) -> str:
        return round_half_up((total + 5 * mean) / 6, 3)

    got = rating_rows(conn)
    # (power, goal threat) from the spec's formulas; with NULL as a loss (-10) Ben's
    # power rating would be -1.667 instead.
    assert {p: got[p][:2] for p in got} == {
        1: (shrunk(30, mean_f), shrunk(3, mean_g)),
        2: (shrunk(0, mean_f), shrunk(0, mean_g)),
        3: (shrunk(-20, mean_f), shrunk(1, mean_g)),
        4: (shrunk(-20, mean_f), shrunk(0, mean_g)),
    }
    assert got[2][:2] == ("2.778", "1.111")
    # Percentiles rank all four (the ringer too); equal values share the lowest rank.
    assert {p: got[p][6:9] for p in got} == {
        1: ("100.0", "100.0", "0.0"),
        2: ("66.7", "0.0", "0.0"),
        3: ("0.0", "66.7", "0.0"),
        4: ("0.0", "0.0", "0.0"),
    }
    assert all(got[p][2:6] == ("100.0", "1.000", "1.000", "true") for p in got)

    # The same NULL row in the other functions (10-inputs §2.3): a loss's points in season
    # stats, 0 in all-time stats, "" in recent performance.
    call(conn, "update_half_and_full_season_stats")
    call(conn, "update_aggregated_all_time_stats")
    call(conn, "update_aggregated_recent_performance")
    assert rows(
        conn, "SELECT fantasy_points, losses FROM aggregated_half_season_stats WHERE player_id = 2"
    ) == [(-10, 0)]
    assert rows(
        conn, "SELECT fantasy_points::text FROM aggregated_all_time_stats WHERE player_id = 2"
    ) == [("0.0",)]
    assert rows(
        conn,
        """SELECT last_5_games -> 0 ->> 'result', last_5_games -> 0 -> 'goals'
           FROM aggregated_recent_performance WHERE player_id = 2""",
    ) == [("", 0)]


# ---------------------------------------------------------------- all-time and hall of fame


def _hof_league(conn: psycopg.Connection[Any]) -> None:
    """Games: Ann 5 (all wins), Ben 3 (wins), Cat 2 (losses), Dan 1 (loss)."""
    for pid, name in ((1, "Ann"), (2, "Ben"), (3, "Cat"), (4, "Dan")):
        add_player(conn, pid, name)
    add_game(conn, 1, "2026-03-05", 2, 1, {1: 1, 2: 1}, {3: 1})
    add_game(conn, 2, "2026-03-12", 2, 1, {1: 1, 2: 1}, {3: 1})
    add_game(conn, 3, "2026-03-19", 2, 1, {1: 1, 2: 1}, {4: 1})
    add_game(conn, 4, "2026-03-26", 2, 1, {1: 2}, {})
    add_game(conn, 5, "2026-04-02", 2, 1, {1: 2}, {})


def hall_of_fame(conn: psycopg.Connection[Any]) -> dict[str, list[tuple[int, str]]]:
    found = rows(
        conn, "SELECT category, player_id, value::text FROM aggregated_hall_of_fame ORDER BY id"
    )
    lists: dict[str, list[tuple[int, str]]] = {}
    for category, player_id, value in found:
        lists.setdefault(str(category), []).append((int(player_id), str(value)))
    return lists


def test_games_required_for_hof_absent(conn: psycopg.Connection[Any]) -> None:
    _hof_league(conn)
    call(conn, "update_aggregated_all_time_stats")
    call(conn, "update_aggregated_hall_of_fame")

    # Absent key: 0 games for the all-time table, 50 for the best win percentage.
    assert rows(conn, "SELECT player_id FROM aggregated_all_time_stats ORDER BY 1") == [
        (1,),
        (2,),
        (3,),
        (4,),
    ]
    assert hall_of_fame(conn) == {
        "most_goals": [(1, "7.00"), (2, "3.00"), (3, "2.00")],
        "most_fantasy_points": [(1, "100.00"), (2, "60.00")],  # only positive totals
    }


def test_games_required_for_hof_filters_all_time_and_hall_of_fame(
    conn: psycopg.Connection[Any],
) -> None:
    _hof_league(conn)
    set_config(conn, "games_required_for_hof", "3")
    call(conn, "update_aggregated_all_time_stats")
    call(conn, "update_aggregated_hall_of_fame")

    # Players with fewer than 3 games lose their all-time row (Q-A1)...
    assert rows(conn, "SELECT player_id FROM aggregated_all_time_stats ORDER BY 1") == [
        (1,),
        (2,),
    ]
    # ... and so every hall-of-fame list; the best win percentage needs 3 games too.
    assert hall_of_fame(conn) == {
        "most_goals": [(1, "7.00"), (2, "3.00")],
        "best_win_percentage": [(1, "100.00"), (2, "100.00")],
        "most_fantasy_points": [(1, "100.00"), (2, "60.00")],
    }


def _seed_all_time(
    conn: psycopg.Connection[Any], player_id: int, goals: int, win_pct: str, fantasy: str
) -> None:
    conn.execute(
        """INSERT INTO aggregated_all_time_stats (player_id, games_played, wins, draws, losses,
               goals, win_percentage, heavy_wins, heavy_win_percentage, heavy_losses,
               heavy_loss_percentage, clean_sheets, clean_sheet_percentage, fantasy_points,
               points_per_game)
           VALUES (%s, 60, 36, 0, 24, %s, %s, 0, 0, 0, 0, 0, 0, %s, 1)""",
        (player_id, goals, win_pct, fantasy),
    )


def test_hall_of_fame_breaks_ties_by_player_id(conn: psycopg.Connection[Any]) -> None:
    for pid in range(1, 7):
        add_player(conn, pid, f"P{pid}")
    # Inserted in reverse id order, so physical order cannot explain the result.
    for pid in range(6, 0, -1):
        _seed_all_time(
            conn,
            pid,
            goals=11 if pid == 6 else 10,
            win_pct="60.0",
            fantasy="120.0" if pid == 5 else "100.0",
        )

    assert call(conn, "update_aggregated_hall_of_fame") == {"rows": 9}

    # Value first, then player_id ascending; ids follow that order within each list.
    assert hall_of_fame(conn) == {
        "most_goals": [(6, "11.00"), (1, "10.00"), (2, "10.00")],
        "best_win_percentage": [(1, "60.00"), (2, "60.00"), (3, "60.00")],
        "most_fantasy_points": [(5, "120.00"), (1, "100.00"), (2, "100.00")],
    }


def test_hall_of_fame_limit_zero_and_negative(conn: psycopg.Connection[Any]) -> None:
    add_player(conn, 1, "Ann")
    _seed_all_time(conn, 1, goals=5, win_pct="60.0", fantasy="100.0")
    call(conn, "update_aggregated_hall_of_fame")
    before = table_snapshot(conn, "aggregated_hall_of_fame")
    assert len(before) == 3

    set_config(conn, "hall_of_fame_limit", "-1")
    with pytest.raises(psycopg.Error) as failure:
        call(conn, "update_aggregated_hall_of_fame")
    assert str(failure.value).startswith(
        "Error in update_aggregated_hall_of_fame: LIMIT must not be negative"
    )
    assert table_snapshot(conn, "aggregated_hall_of_fame") == before  # rolled back

    set_config(conn, "hall_of_fame_limit", "0")
    assert call(conn, "update_aggregated_hall_of_fame") == {"rows": 0}
    assert count(conn, "aggregated_hall_of_fame") == 0


# ---------------------------------------------------------------- seasons and all-time scope


def test_season_years_future_matches_and_orphan_rows(conn: psycopg.Connection[Any]) -> None:
    add_player(conn, 1, "Ann")
    add_player(conn, 2, "Rex", ringer=True)
    add_game(conn, 1, "2024-05-02", 1, 0, {2: 1}, {})  # 2024: a ringer's game only
    add_game(conn, 2, "2025-03-06", 1, 0, {1: 1}, {})
    add_game(conn, 3, "2026-08-06", 1, 0, {1: 1}, {})
    add_game(conn, 4, "2026-12-17", 1, 0, {1: 1}, {})  # after today, inside the half
    add_game(conn, 5, "2027-01-14", 1, 0, {1: 1}, {})  # a future year
    add_row(conn, 1, None, "A", 1, "win", False, False, False)  # no match at all
    # Rows of an earlier run: 2019 has no match any more (kept); 2024 is rebuilt.
    for year in (2019, 2024):
        conn.execute(
            """INSERT INTO aggregated_season_stats (player_id, season_start_date,
                   season_end_date, games_played, wins, draws, losses, goals, heavy_wins,
                   heavy_losses, clean_sheets, win_percentage, fantasy_points, points_per_game)
               VALUES (1, %s, %s, 1, 1, 0, 0, 0, 0, 0, 0, 100, 20, 20)""",
            (dt.date(year, 1, 1), dt.date(year, 12, 31)),
        )

    result = call(conn, "update_half_and_full_season_stats")

    assert result["seasons_rebuilt"] == 3  # 2024, 2025, 2026; never 2027
    seasons = rows(
        conn,
        """SELECT extract(year FROM season_start_date)::int, games_played
           FROM aggregated_season_stats ORDER BY 1""",
    )
    assert seasons == [(2019, 1), (2025, 1), (2026, 2)]
    assert rows(conn, "SELECT player_id, games_played FROM aggregated_half_season_stats") == [
        (1, 2)
    ]
    call(conn, "update_aggregated_all_time_stats")
    # All-time joins no match: the 2027 game and the orphan row count (Q-A2).
    assert rows(conn, "SELECT player_id, games_played FROM aggregated_all_time_stats") == [(1, 5)]


def test_half_season_follows_todays_half(conn: psycopg.Connection[Any]) -> None:
    add_player(conn, 1, "Ann")
    add_game(conn, 1, "2026-06-30", 1, 0, {1: 1}, {})
    add_game(conn, 2, "2026-07-02", 1, 0, {1: 1}, {})

    call(conn, "update_half_and_full_season_stats", as_of="2026-07-01")
    assert rows(conn, "SELECT games_played FROM aggregated_half_season_stats") == [(1,)]
    call(conn, "update_half_and_full_season_stats", as_of="2026-06-30")
    assert rows(conn, "SELECT games_played FROM aggregated_half_season_stats") == [(1,)]
    call(conn, "update_half_and_full_season_stats", as_of="2027-01-01")
    assert count(conn, "aggregated_half_season_stats") == 0  # Q-S3: empty new half


# ---------------------------------------------------------------- recent performance


def test_recent_performance_order_scores_and_flags(conn: psycopg.Connection[Any]) -> None:
    add_player(conn, 1, "Ann")
    add_player(conn, 2, "Rex", ringer=True)
    add_player(conn, 3, "Zed")  # no games
    add_player(conn, 4, "Old", retired=True)
    add_game(conn, 1, "2026-03-05", 2, 0, {1: 1, 4: 1}, {2: 0})  # sixth newest: dropped
    add_game(conn, 2, "2026-04-02", 0, 0, {}, {1: 0})
    add_match(conn, 3, "2026-05-07", 1, 3)
    add_row(conn, 1, 3, "A", 0, "loss", False, False, True)  # stored clean sheet is wrong
    add_game(conn, 5, "2026-06-04", 4, 0, {1: 2}, {})  # same date as match 4, higher id
    add_game(conn, 4, "2026-06-04", 1, 1, {}, {1: 1})
    add_game(conn, 6, "2026-12-24", 2, 1, {1: 1}, {})  # after today: still "recent"

    assert call(conn, "update_aggregated_recent_performance") == {"rows": 3}

    found = {
        int(pid): (games, goals)
        for pid, games, goals in rows(
            conn, "SELECT player_id, last_5_games, last_5_goals FROM aggregated_recent_performance"
        )
    }
    assert set(found) == {1, 3, 4}  # no ringer; retired and game-less players included
    assert found[3] == ([], 0)
    assert found[4][1] == 1
    games, goals = found[1]
    assert [(g["date"], g["score"], g["result"]) for g in games] == [
        ("2026-12-24", "2-1", "win"),
        ("2026-06-04", "4-0", "win"),
        ("2026-06-04", "1-1", "draw"),
        ("2026-05-07", "1-3", "loss"),
        ("2026-04-02", "0-0", "draw"),
    ]
    # clean_sheet comes from the score, heavy flags from the row.
    assert [g["clean_sheet"] for g in games] == [False, True, False, False, True]
    assert [g["heavy_win"] for g in games] == [False, True, False, False, False]
    assert goals == 1 + 2 + 1 + 0 + 0


# ---------------------------------------------------------------- power ratings


# Spec 20 §5.4, verified against the reference: (power_rating, goal_threat,
# participation, weighted_played, weighted_available, is_qualified, power_pct,
# goal_pct, participation_pct, first_match_date).
_WORKED_EXAMPLE_TABLE = """
1  12.804  1.494  100.0  3.984  3.984  true   75.0  100.0  75.0  2024-11-29
2   5.516  1.455  100.0  3.984  3.984  true    0.0   50.0  75.0  2024-11-29
3  15.275  1.414   72.1  2.512  3.484  false  50.0   50.0  50.0  2025-10-25
4  12.433  1.382   49.3  0.972  1.972  false  50.0   50.0  50.0  2026-10-29
5  10.963  1.456    0.0  0.000  3.984  false  50.0   50.0  50.0  1900-01-01
"""
WORKED_EXAMPLE = {
    int(fields[0]): tuple(fields[1:])
    for fields in (line.split() for line in _WORKED_EXAMPLE_TABLE.strip().splitlines())
}


def _worked_example_league(conn: psycopg.Connection[Any]) -> None:
    add_player(conn, 1, "Ann")
    add_player(conn, 2, "Ben")
    add_player(conn, 3, "Cat")
    add_player(conn, 4, "Rex", ringer=True)
    add_player(conn, 5, "Zed")
    add_player(conn, 6, "Old", retired=True)
    add_game(conn, 1, "2024-11-29", 3, 1, {1: 2, 6: 1}, {2: 1})
    add_game(conn, 2, "2025-10-25", 2, 2, {1: 1, 3: 1}, {2: 2})
    add_game(conn, 3, "2026-05-12", 5, 0, {1: 3, 3: 2}, {2: 0})
    add_game(conn, 4, "2026-10-29", 1, 4, {1: 1}, {2: 3, 4: 1})
    add_game(conn, 5, "2026-11-28", 2, 1, {1: 1, 3: 1}, {2: 1})


def test_power_ratings_worked_example(conn: psycopg.Connection[Any]) -> None:
    _worked_example_league(conn)
    set_config(conn, "performance_qualification_threshold", "3")

    assert call(conn, "update_power_ratings") == {"rows": 5}

    assert rating_rows(conn) == WORKED_EXAMPLE  # Old (retired) is not rated


def test_power_ratings_worked_example_default_threshold(conn: psycopg.Connection[Any]) -> None:
    _worked_example_league(conn)

    assert call(conn, "update_power_ratings") == {"rows": 5}

    # T = 5: nobody qualified, every percentile 50, and no failure: Ann and Ben reach
    # 0.6 x 5 = 3 weighted games, so they (not Cat, 2.51) make the league mean.
    got = rating_rows(conn)
    assert {p: v[2:5] for p, v in got.items()} == {p: v[2:5] for p, v in WORKED_EXAMPLE.items()}
    assert all(v[5:9] == ("false", "50.0", "50.0", "50.0") for v in got.values())
    # Zed has no games, so his power rating is the league mean itself. Weights of
    # d = 729, 399, 200, 30, 0 days as given in spec §5.2 step 2.
    w = [
        Decimal("0.500474983809689324"),
        Decimal("0.684643401792848331"),
        Decimal("0.827039074042148453"),
        Decimal("0.971916386276651276"),
        Decimal(1),
    ]
    ann = [20, 10, 40, -10, 20]
    ben = [-10, 10, -20, 20, -10]
    points = sum(((a + b) * x for a, b, x in zip(ann, ben, w, strict=True)), Decimal(0))
    assert got[5][0] == round_half_up(points / (2 * sum(w, Decimal(0))), 3)


def test_power_ratings_duplicates_future_and_retired(conn: psycopg.Connection[Any]) -> None:
    set_config(conn, "performance_qualification_threshold", "1")
    add_player(conn, 1, "Ann")
    add_player(conn, 2, "Ben")
    add_player(conn, 3, "Cat")  # plays only after today
    add_player(conn, 4, "Nul", retired=None)  # is_retired NULL: not rated
    add_player(conn, 5, "Old", retired=True)
    add_game(conn, 1, TODAY, 1, 0, {1: 1, 4: 0}, {2: 0})
    add_played(conn, 1, 1, "A", 1, 1, 0)  # Ann's row duplicated
    add_game(conn, 2, TODAY, 0, 0, {2: 0}, {})
    add_game(conn, 3, "2026-12-03", 1, 0, {3: 1}, {})
    conn.execute(
        """INSERT INTO aggregated_performance_ratings (player_id, power_rating, goal_threat,
               participation, weighted_played, weighted_available, is_qualified)
           VALUES (5, 7.25, 0.5, 80, 4, 5, true)"""
    )
    old_before = table_snapshot(conn, "aggregated_performance_ratings")

    assert call(conn, "update_power_ratings") == {"rows": 3}

    got = rating_rows(conn)
    assert set(got) == {1, 2, 3, 5}
    # The duplicated row counts twice as played and twice as available (spec §5.2 step 5).
    assert got[1][2:5] == ("66.7", "2.000", "3.000")
    assert got[2][2:5] == ("100.0", "2.000", "2.000")
    # First match after today: nothing available yet.
    assert got[3][2:6] == ("0.0", "0.000", "0.000", "false")
    assert got[3][9] == "2026-12-03"
    # A retired player's old row is left as it was (Q-P3).
    assert table_snapshot(conn, "aggregated_performance_ratings")[-1] == old_before[0]


def _scoped_power_ratings(
    conn: psycopg.Connection[Any], players: list[int], as_of: str = TODAY
) -> dict[str, Any]:
    """update_power_ratings as a post-match job calls it: capo.scope_players set."""
    with conn.transaction():
        conn.execute(
            "SELECT set_config('capo.as_of', %s, true), set_config('capo.scope_players', %s, true)",
            (as_of, "{" + ",".join(str(p) for p in players) + "}"),
        )
        row = conn.execute("SELECT update_power_ratings(%s::uuid)", (DEFAULT_TENANT_ID,)).fetchone()
    assert row is not None
    summary: dict[str, Any] = row[0]
    return summary


def test_power_ratings_scoped_to_players_equal_a_full_run(conn: psycopg.Connection[Any]) -> None:
    _worked_example_league(conn)
    set_config(conn, "performance_qualification_threshold", "3")
    call(conn, "update_power_ratings")
    # An old match entered late with Cat and Zed (his first games), Cat's row duplicated,
    # and a future match for Rex: the mean, everyone's availability and the percentiles
    # move, and only Cat's, Zed's and Rex's sums are recomputed.
    add_game(conn, 7, "2025-03-01", 2, 0, {3: 1}, {5: 0})
    add_played(conn, 3, 7, "A", 1, 2, 0)
    add_game(conn, 8, "2026-12-05", 1, 1, {4: 1}, {})
    before = rating_rows(conn)

    scoped = _scoped_power_ratings(conn, [3, 4, 5])
    after_scoped = rating_rows(conn)
    assert "scope" not in scoped and scoped["rows"] == 5  # Old's row stays unrated
    assert after_scoped != before
    assert call(conn, "update_power_ratings") == {"rows": 5}
    assert rating_rows(conn) == after_scoped

    # Nothing changed: a scoped run writes no row.
    assert _scoped_power_ratings(conn, [3, 4, 5]) == {"rows": 0}
    assert rating_rows(conn) == after_scoped


def test_power_ratings_scoped_on_another_day_or_settings_run_in_full(
    conn: psycopg.Connection[Any],
) -> None:
    _worked_example_league(conn)
    set_config(conn, "performance_qualification_threshold", "3")
    call(conn, "update_power_ratings")
    add_game(conn, 7, "2026-11-29", 2, 0, {3: 1}, {5: 0})
    next_day = _scoped_power_ratings(conn, [3, 5], as_of="2026-11-29")
    assert next_day["scope"].startswith("full: the players' sums were not computed")
    assert next_day["rows"] == 5
    after = rating_rows(conn)
    assert call(conn, "update_power_ratings", as_of="2026-11-29") == {"rows": 5}
    assert rating_rows(conn) == after

    # Other fantasy points: every player's sums change, so it runs in full too.
    set_config(conn, "fantasy_win_points", "30")
    other_points = _scoped_power_ratings(conn, [3], as_of="2026-11-29")
    assert "scope" in other_points
    after = rating_rows(conn)
    call(conn, "update_power_ratings", as_of="2026-11-29")
    assert rating_rows(conn) == after


# ---------------------------------------------------------------- errors


def test_errors_are_wrapped_and_tables_kept(conn: psycopg.Connection[Any]) -> None:
    _worked_example_league(conn)
    run_core(conn)
    before = core_snapshot(conn)

    set_config(conn, "fantasy_win_points", "20.5")
    for fn in ("update_half_and_full_season_stats", "update_aggregated_all_time_stats"):
        with pytest.raises(psycopg.errors.InvalidTextRepresentation) as failure:
            call(conn, fn)
        assert str(failure.value).startswith(
            f'Error in {fn}: invalid input syntax for type integer: "20.5"'
        )
    # Power ratings lets the original error through (spec 10-inputs §6).
    with pytest.raises(psycopg.errors.InvalidTextRepresentation) as failure:
        call(conn, "update_power_ratings")
    assert str(failure.value).startswith('invalid input syntax for type integer: "20.5"')

    set_config(conn, "fantasy_win_points", "20")
    set_config(conn, "match_duration_minutes", "sixty")  # read, unused, still fails (Q-S4)
    with pytest.raises(psycopg.Error, match=r"^Error in update_half_and_full_season_stats"):
        call(conn, "update_half_and_full_season_stats")
    set_config(conn, "performance_half_life_days", "0")
    with pytest.raises(psycopg.errors.DivisionByZero):
        call(conn, "update_power_ratings")

    assert core_snapshot(conn) == before


# ---------------------------------------------------------------- reruns, tenants, locks


def test_running_twice_gives_identical_output(db_url: str) -> None:
    load_fixture(db_url, "small")
    with psycopg.connect(db_url, autocommit=True) as conn:
        first_results = run_core(conn)
        first = core_snapshot(conn)
        second_results = run_core(conn)
        second = core_snapshot(conn)
        keys = rows(conn, "SELECT cache_key, count(*) FROM cache_metadata GROUP BY 1")

    assert first_results == second_results
    assert all(first[t] for t in CORE_TABLES)
    assert first == second
    assert all(n == 1 for _, n in keys)


def _shifted_tiny(offset: int) -> dict[str, Any]:
    """The tiny league with every id moved up by `offset` (ids are global serials)."""
    data: dict[str, Any] = json.loads(league_path("tiny").read_text())
    for p in data["players"]:
        p["player_id"] += offset
    for m in data["matches"]:
        m["match_id"] += offset
    for pm in data["player_matches"]:
        pm["player_match_id"] += offset
        pm["player_id"] += offset
        pm["match_id"] += offset
    return data


def _assert_tiny_golden(conn: psycopg.Connection[Any], tenant: str, offset: int) -> None:
    for table in CORE_TABLES:
        golden = Golden.load(golden_dir("tiny") / f"{table}.json")
        found = fetch_rows(conn, golden, tenant)
        for row in found:
            row["player_id"] -= offset
        diff = compare_table(golden, found)
        assert diff.ok, f"tenant {tenant}:\n{report([diff])}"


def test_tenants_do_not_touch_each_other(db_url: str) -> None:
    offset = 1000
    load_fixture(db_url, "tiny")
    with psycopg.connect(db_url, autocommit=True) as conn:
        add_tenant(conn, OTHER_TENANT, "second club")
    load_league(db_url, parse_league(_shifted_tiny(offset)), OTHER_TENANT)

    with psycopg.connect(db_url, autocommit=True) as conn:
        run_core(conn, tenant=OTHER_TENANT)
        assert core_snapshot(conn) == {t: [] for t in CORE_TABLES}  # default tenant untouched
        assert cache_keys(conn) == set()
        run_core(conn)  # the default tenant
        other_before = core_snapshot(conn, OTHER_TENANT)
        # The no-argument call (the web app's) works on the default tenant only.
        for fn in CORE:
            with conn.transaction():
                conn.execute("SELECT set_config('capo.as_of', %s, true)", (TODAY,))
                conn.execute(sql.SQL("SELECT {}()").format(sql.Identifier(fn)))
        assert core_snapshot(conn, OTHER_TENANT) == other_before

        _assert_tiny_golden(conn, DEFAULT_TENANT_ID, 0)
        _assert_tiny_golden(conn, OTHER_TENANT, offset)
        assert cache_keys(conn) == CORE_CACHE_KEYS
        assert cache_keys(conn, OTHER_TENANT) == CORE_CACHE_KEYS


@pytest.mark.parametrize("fn", CORE)
def test_runs_for_one_tenant_serialise(db_url: str, fn: str) -> None:
    _ = load_fixture(db_url, "tiny")
    with psycopg.connect(db_url, autocommit=True) as setup:
        add_tenant(setup, OTHER_TENANT, "second club")
    with (
        psycopg.connect(db_url, autocommit=True) as first,
        psycopg.connect(db_url, autocommit=True) as second,
    ):
        second.execute("SET lock_timeout = '200ms'")
        with first.transaction():
            first.execute("SELECT set_config('capo.as_of', %s, true)", (TODAY,))
            first.execute(sql.SQL("SELECT {}()").format(sql.Identifier(fn)))
            # Same tenant: waits for the first run's transaction (here: times out).
            with pytest.raises(psycopg.errors.LockNotAvailable):
                call(second, fn)
            # Another tenant: not blocked.
            assert call(second, fn, tenant=OTHER_TENANT)["rows"] == 0
        assert "rows" in call(second, fn)  # free again once the first run committed


def test_cache_metadata_keeps_or_rewrites_the_dependency_type(
    conn: psycopg.Connection[Any],
) -> None:
    # Existing rows: only personal bests, profiles and power ratings rewrite the type.
    for key in ("all_time_stats", "player_power_rating"):
        conn.execute(
            "INSERT INTO cache_metadata (cache_key, last_invalidated, dependency_type) "
            "VALUES (%s, now() - interval '1 day', 'set_by_hand')",
            (key,),
        )
    call(conn, "update_aggregated_all_time_stats")
    call(conn, "update_power_ratings")
    fresh = dict(
        rows(
            conn,
            "SELECT cache_key, dependency_type FROM cache_metadata "
            "WHERE last_invalidated > now() - interval '1 hour'",
        )
    )
    assert fresh["all_time_stats"] == "set_by_hand"
    assert fresh["player_power_rating"] == "function_execution"


def fantasy_settings(conn: psycopg.Connection[Any], tenant: str) -> tuple[int, ...]:
    return rows(conn, "SELECT * FROM capo_fantasy_settings(%s)", tenant)[0]


def test_fantasy_settings_default_relative_to_the_tenants_own_points(
    conn: psycopg.Connection[Any],
) -> None:
    # Order: win, draw, loss, heavy win, heavy loss, clean-sheet win, clean-sheet draw,
    # heavy clean-sheet win; the last five default from the first three as given.
    other = "00000000-0000-0000-0000-0000000000f2"
    add_tenant(conn, other, "fantasy-other")
    assert fantasy_settings(conn, DEFAULT_TENANT_ID) == (20, 10, -10, 30, -20, 30, 20, 40)
    set_config(conn, "fantasy_win_points", " 7", tenant=DEFAULT_TENANT_ID)
    set_config(conn, "fantasy_loss_points", "-3", tenant=DEFAULT_TENANT_ID)
    set_config(conn, "fantasy_clean_sheet_draw_points", "11", tenant=DEFAULT_TENANT_ID)
    set_config(conn, "fantasy_heavy_win_points", "99", tenant=other)  # another club's setting
    assert fantasy_settings(conn, DEFAULT_TENANT_ID) == (7, 10, -3, 17, -13, 17, 11, 27)
    assert fantasy_settings(conn, other) == (20, 10, -10, 99, -20, 30, 20, 40)
    set_config(conn, "fantasy_heavy_win_points", "lots", tenant=DEFAULT_TENANT_ID)
    with pytest.raises(psycopg.errors.InvalidTextRepresentation, match="lots"):
        fantasy_settings(conn, DEFAULT_TENANT_ID)
