"""Honours & records, personal bests, season race and player profiles (spec 30) beyond goldens.

Each test builds a small league by hand in a fresh database (NULLs and rows the
league importer would not write included), runs the functions at a pinned
"today" and checks the stored values against spec 30-records-stats.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from capo_worker.constants import DEFAULT_TENANT_ID
from tests.support.league_rows import (
    add_game,
    add_match,
    add_played,
    add_player,
    add_row,
    call,
    set_config,
)
from tests.support.leagues import load_fixture

TODAY = "2026-11-28"
OTHER_TENANT = "00000000-0000-0000-0000-0000000000c3"

HONOURS = "update_aggregated_season_honours_and_records"
PBS = "update_aggregated_personal_bests"
RACE = "update_aggregated_season_race_data"
PROFILE = "update_aggregated_player_profile_stats"
MINE = (HONOURS, PBS, RACE, PROFILE)
MY_TABLES = {
    "aggregated_season_honours": ("last_updated",),
    "aggregated_records": ("id", "last_updated"),
    "aggregated_personal_bests": ("created_at", "updated_at"),
    "aggregated_season_race_data": ("race_data_id", "last_updated"),
    "aggregated_player_profile_stats": ("last_updated",),
}
EMPTY_RECORDS: dict[str, Any] = {
    "most_goals_in_game": [],
    "biggest_victory": [],
    "consecutive_goals_streak": [],
    "streaks": {},
    "attendance_streak": [],
}


# ---------------------------------------------------------------- helpers


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(db_url, autocommit=True) as connection:
        yield connection


def run_mine(
    conn: psycopg.Connection[Any], *, tenant: str = DEFAULT_TENANT_ID, as_of: str = TODAY
) -> dict[str, dict[str, Any]]:
    return {fn: call(conn, fn, tenant=tenant, as_of=as_of) for fn in MINE}


def records(conn: psycopg.Connection[Any], tenant: str = DEFAULT_TENANT_ID) -> dict[str, Any]:
    found = conn.execute(
        "SELECT records FROM aggregated_records WHERE tenant_id = %s", (tenant,)
    ).fetchall()
    assert len(found) == 1, "aggregated_records must hold exactly one row per tenant"
    doc: dict[str, Any] = found[0][0]
    return doc


def honours(
    conn: psycopg.Connection[Any], tenant: str = DEFAULT_TENANT_ID
) -> dict[int, tuple[Any, Any]]:
    found = conn.execute(
        """SELECT year, season_winners, top_scorers FROM aggregated_season_honours
           WHERE tenant_id = %s""",
        (tenant,),
    ).fetchall()
    return {int(r[0]): (r[1], r[2]) for r in found}


def personal_bests(
    conn: psycopg.Connection[Any], tenant: str = DEFAULT_TENANT_ID
) -> dict[int, dict[str, Any]]:
    found = conn.execute(
        "SELECT match_id, broken_pbs_data FROM aggregated_personal_bests WHERE tenant_id = %s",
        (tenant,),
    ).fetchall()
    return {int(r[0]): r[1] for r in found}


def race(
    conn: psycopg.Connection[Any], tenant: str = DEFAULT_TENANT_ID
) -> dict[tuple[int, str], list[dict[str, Any]]]:
    found = conn.execute(
        """SELECT season_year, period_type, player_data FROM aggregated_season_race_data
           WHERE tenant_id = %s""",
        (tenant,),
    ).fetchall()
    return {(int(r[0]), str(r[1])): r[2] for r in found}


def profiles(
    conn: psycopg.Connection[Any], tenant: str = DEFAULT_TENANT_ID
) -> dict[int, dict[str, Any]]:
    """Profile rows by player id; numbers inside JSON kept as their text."""
    found = conn.execute(
        """SELECT player_id, to_jsonb(p) - 'yearly_stats' - 'teammate_chemistry_all'
                  - 'last_updated', yearly_stats::text, teammate_chemistry_all::text
           FROM aggregated_player_profile_stats p WHERE tenant_id = %s""",
        (tenant,),
    ).fetchall()
    result = {}
    for player_id, row, yearly, chemistry in found:
        row["yearly_stats"] = json.loads(yearly, parse_float=str)
        row["teammate_chemistry_all"] = json.loads(chemistry, parse_float=str)
        row["teammate_chemistry_text"] = chemistry
        result[int(player_id)] = row
    return result


def cache_keys(
    conn: psycopg.Connection[Any], tenant: str = DEFAULT_TENANT_ID
) -> set[tuple[str, str]]:
    found = conn.execute(
        "SELECT cache_key, dependency_type FROM cache_metadata WHERE tenant_id = %s", (tenant,)
    ).fetchall()
    return {(str(k), str(d)) for k, d in found}


def snapshot(
    conn: psycopg.Connection[Any], tenant: str = DEFAULT_TENANT_ID
) -> dict[str, list[str]]:
    """Every row of my five tables for one tenant, volatile columns removed, sorted."""
    result = {}
    for table, volatile in MY_TABLES.items():
        found = conn.execute(
            sql.SQL("SELECT to_jsonb(t) FROM {} t WHERE tenant_id = %s").format(
                sql.Identifier(table)
            ),
            (tenant,),
        ).fetchall()
        result[table] = sorted(
            json.dumps({k: v for k, v in r[0].items() if k not in volatile}, sort_keys=True)
            for r in found
        )
    return result


def holder(name: str, streak: int, start: str, end: str) -> dict[str, Any]:
    return {"name": name, "streak": streak, "start_date": start, "end_date": end}


# ---------------------------------------------------------------- empty and tiny leagues


def test_empty_league_succeeds_with_notes(conn: psycopg.Connection[Any]) -> None:
    summaries = run_mine(conn)

    for fn in (HONOURS, PBS, RACE, PROFILE):
        assert summaries[fn]["note"], f"{fn} should explain what it did with no data"
    assert summaries[PBS]["rows"] == 0
    assert records(conn) == EMPTY_RECORDS
    assert honours(conn) == {}
    assert personal_bests(conn) == {}
    assert race(conn) == {(2026, "whole_season"): [], (2026, "current_half"): []}
    assert profiles(conn) == {}
    # Personal bests return before touching cache_metadata (Q-P3); the others upsert.
    assert cache_keys(conn) == {
        ("honour_roll", "honour_roll"),
        ("season_race_data", "season_race_data"),
        ("player_profile_stats", "player_profile_stats"),
    }


def test_one_match_league(conn: psycopg.Connection[Any]) -> None:
    add_player(conn, 1, "Ann")
    add_player(conn, 2, "Ben")
    add_player(conn, 3, "Cat")
    add_player(conn, 4, "Rob", ringer=True)
    add_game(conn, 1, "2026-11-26", 3, 1, {1: 2, 2: 1}, {3: 0, 4: 1})

    summaries = run_mine(conn)

    assert "note" not in summaries[PROFILE] and summaries[PROFILE]["rows"] == 3
    doc = records(conn)
    assert doc["most_goals_in_game"] == [
        {"name": "Ann", "goals": 2, "date": "2026-11-26", "score": "3-1"}
    ]
    assert doc["biggest_victory"] == [
        {
            "team_a_score": 3,
            "team_b_score": 1,
            "team_a_players": "Ann (2), Ben (1)",
            "team_b_players": "Cat",  # the ringer Rob is left out
            "date": "2026-11-26",
        }
    ]
    assert doc["streaks"] == {
        "Win Streak": {
            "holders": [
                holder("Ann", 1, "2026-11-26", "2026-11-26"),
                holder("Ben", 1, "2026-11-26", "2026-11-26"),
            ]
        },
        "Undefeated Streak": {
            "holders": [
                holder("Ann", 1, "2026-11-26", "2026-11-26"),
                holder("Ben", 1, "2026-11-26", "2026-11-26"),
            ]
        },
        "Losing Streak": {"holders": [holder("Cat", 1, "2026-11-26", "2026-11-26")]},
        "Winless Streak": {"holders": [holder("Cat", 1, "2026-11-26", "2026-11-26")]},
    }
    assert doc["attendance_streak"] == []  # one match < min_streak_length (3)
    assert honours(conn) == {}  # the current year is never honoured
    # A first-ever game with 2 goals is a goals PB with previous best 0.
    assert personal_bests(conn) == {
        1: {
            "1": {
                "name": "Ann",
                "pbs": [
                    {"metric_type": "most_goals_in_game", "value": 2, "previous_best_value": 0}
                ],
            }
        }
    }
    assert [p["name"] for p in race(conn)[(2026, "whole_season")]] == ["Ann", "Ben"]
    profile = profiles(conn)
    assert sorted(profile) == [1, 2, 3]
    assert profile[1]["attendance_streak"] == 1
    assert profile[1]["attendance_streak_dates"] == "2026-11-26 to 2026-11-26"


# ---------------------------------------------------------------- honours


def test_honours_never_share_a_place_and_fill_with_goalless_players(
    conn: psycopg.Connection[Any],
) -> None:
    for pid, name in ((1, "Dan"), (2, "Ben"), (3, "Cal"), (4, "Ann")):
        add_player(conn, pid, name)
    set_config(conn, "min_games_for_honours", "1")
    # 2025: Ann and Ben win level on points; only Ben and Cal score.
    add_game(conn, 1, "2025-03-06", 2, 1, {4: 0, 2: 2}, {3: 1, 1: 0})
    add_game(conn, 2, "2026-03-05", 9, 0, {1: 9}, {2: 0})  # the current year: no honours

    call(conn, HONOURS)

    assert honours(conn) == {
        2025: (
            {
                "winners": [{"name": "Ann", "points": 20}],
                "runners_up": [{"name": "Ben", "points": 20}],
                "third_place": [{"name": "Cal", "points": -10}],
            },
            {
                "winners": [{"name": "Ben", "goals": 2}],
                "runners_up": [{"name": "Cal", "goals": 1}],
                "third_place": [{"name": "Ann", "goals": 0}],  # Q-H2
            },
        )
    }


def test_min_games_for_honours_is_read_from_config(conn: psycopg.Connection[Any]) -> None:
    add_player(conn, 1, "Ann")
    add_player(conn, 2, "Ben")
    for i in range(5):
        add_game(conn, i + 1, f"2025-0{i + 1}-10", 1, 0, {1: 1}, {2: 0})

    call(conn, HONOURS)
    assert honours(conn) == {}  # 5 games < the default 10

    set_config(conn, "min_games_for_honours", "5")
    call(conn, HONOURS)
    winners, scorers = honours(conn)[2025]
    assert winners["winners"] == [{"name": "Ann", "points": 5 * 30}]  # clean-sheet wins
    assert winners["runners_up"] == [{"name": "Ben", "points": 5 * -10}]
    assert winners["third_place"] == []
    assert scorers["winners"] == [{"name": "Ann", "goals": 5}]

    set_config(conn, "min_games_for_honours", "6")
    call(conn, HONOURS)
    assert honours(conn) == {}


def test_honours_count_a_null_result_as_a_loss_and_use_the_helper_defaults(
    conn: psycopg.Connection[Any],
) -> None:
    add_player(conn, 1, "Ann")
    add_player(conn, 2, "Ben")
    set_config(conn, "min_games_for_honours", "1")
    # Only the win points are configured: the helper's relative defaults make a
    # heavy clean-sheet win 30 + 20 = 50 (the honours function's own 40 is unused).
    set_config(conn, "fantasy_win_points", "30")
    add_match(conn, 1, "2025-05-01", 4, 0)
    add_row(conn, 1, 1, "A", 4, "win", True, False, True)
    add_row(conn, 2, 1, "B", None, None, None, None, None)

    call(conn, HONOURS)

    winners, scorers = honours(conn)[2025]
    assert winners["winners"] == [{"name": "Ann", "points": 50}]
    assert winners["runners_up"] == [{"name": "Ben", "points": -10}]  # NULL result = loss
    assert scorers["runners_up"] == [{"name": "Ben", "goals": 0}]  # NULL goals = 0


# ---------------------------------------------------------------- records


def test_records_keep_only_the_latest_date_of_a_record_and_b_side_scores(
    conn: psycopg.Connection[Any],
) -> None:
    add_player(conn, 1, "Ann")
    add_player(conn, 2, "Ben")
    add_player(conn, 3, "Cat")
    add_player(conn, 4, "Rob", ringer=True)
    add_game(conn, 1, "2026-01-08", 4, 0, {1: 4}, {4: 0})  # margin 4; B has only a ringer
    add_match(conn, 2, "2026-02-05", 1, 4)
    add_row(conn, 2, 2, None, 4, "win")  # a NULL team scores from the B side (Q-H8)
    add_row(conn, 3, 2, "A", None, "loss")  # NULL goals: no candidate, no "(n)"
    add_game(conn, 3, "2026-03-05", 9, 9, {4: 9}, {})  # ringers only: no candidate

    call(conn, HONOURS)

    doc = records(conn)
    # Two 4-goal games: only the later one is listed (Q-H3).
    assert doc["most_goals_in_game"] == [
        {"name": "Ben", "goals": 4, "date": "2026-02-05", "score": "4-1"}
    ]
    assert doc["biggest_victory"] == [
        {
            "team_a_score": 4,
            "team_b_score": 0,
            "team_a_players": "Ann (4)",
            "team_b_players": None,
            "date": "2026-01-08",
        }
    ]


def test_records_of_a_draw_only_league(conn: psycopg.Connection[Any]) -> None:
    add_player(conn, 1, "Ann")
    add_player(conn, 2, "Ben")
    add_game(conn, 1, "2026-01-08", 1, 1, {1: 1}, {2: 1})
    add_game(conn, 2, "2026-01-15", 0, 0, {2: 0}, {1: 0})

    call(conn, HONOURS)

    doc = records(conn)
    assert doc["biggest_victory"] == [
        {
            "team_a_score": 0,
            "team_b_score": 0,
            "team_a_players": "Ben",
            "team_b_players": "Ann",
            "date": "2026-01-15",
        }
    ]
    assert set(doc["streaks"]) == {"Undefeated Streak", "Winless Streak"}  # no win, no loss


def test_result_streaks_break_on_null_and_list_every_longest_run(
    conn: psycopg.Connection[Any],
) -> None:
    add_player(conn, 1, "Ann")
    add_player(conn, 2, "Ben")
    dates = ["2026-01-08", "2026-01-15", "2026-01-22", "2026-01-29", "2026-02-05", "2026-02-12"]
    ann = ["win", "win", None, "win", "win", "draw"]
    for match_id, (date, result) in enumerate(zip(dates, ann, strict=True), start=1):
        add_match(conn, match_id, date, 1, 0)
        add_row(conn, 1, match_id, "A", 0, result)

    call(conn, HONOURS)

    streaks = records(conn)["streaks"]
    # Ann holds the win record twice (Q-H4), latest end first; NULL broke the run.
    assert streaks["Win Streak"]["holders"] == [
        holder("Ann", 2, "2026-01-29", "2026-02-05"),
        holder("Ann", 2, "2026-01-08", "2026-01-15"),
    ]
    assert streaks["Undefeated Streak"]["holders"] == [holder("Ann", 3, "2026-01-29", "2026-02-12")]
    assert streaks["Winless Streak"]["holders"] == [holder("Ann", 1, "2026-02-12", "2026-02-12")]
    assert "Losing Streak" not in streaks


def test_scoring_streaks_and_attendance_record(conn: psycopg.Connection[Any]) -> None:
    add_player(conn, 1, "Ann")
    add_player(conn, 2, "Ben")
    add_player(conn, 3, "Cat")
    # Ann: 1,1,0,1,1 goals over all five matches; Ben misses the third match.
    add_game(conn, 1, "2026-01-08", 2, 0, {1: 1, 2: 1}, {3: 0})
    add_game(conn, 2, "2026-01-15", 2, 0, {1: 1, 2: 1}, {3: 0})
    add_game(conn, 3, "2026-01-22", 0, 0, {1: 0}, {3: 0})
    add_game(conn, 4, "2026-01-29", 2, 0, {1: 1, 2: 1}, {3: 0})
    add_game(conn, 5, "2026-02-05", 2, 0, {1: 1, 2: 0}, {3: 0})

    call(conn, HONOURS)
    doc = records(conn)
    # Ben's three scoring games in a row span a missed match: missing does not break it.
    assert doc["consecutive_goals_streak"] == [holder("Ben", 3, "2026-01-08", "2026-01-29")]
    # One element per player, with their best (latest) longest run.
    assert doc["attendance_streak"] == [
        holder("Ann", 5, "2026-01-08", "2026-02-05"),
        holder("Cat", 5, "2026-01-08", "2026-02-05"),
    ]

    set_config(conn, "min_streak_length", "6")
    call(conn, HONOURS)
    assert records(conn)["attendance_streak"] == []


# ---------------------------------------------------------------- personal bests


def test_personal_bests_keep_earlier_rows_and_never_report_result_streaks(
    conn: psycopg.Connection[Any],
) -> None:
    add_player(conn, 1, "Ann")
    add_player(conn, 2, "Ben")
    add_player(conn, 3, "Rob", ringer=True)
    dates = ["2026-01-08", "2026-01-15", "2026-01-22", "2026-01-29", "2026-02-05"]
    for match_id, date in enumerate(dates[:4], start=1):
        add_game(conn, match_id, date, 2, 0, {1: 2 if match_id == 1 else 1}, {2: 0, 3: 5})
        call(conn, PBS)
    first = personal_bests(conn)[1]
    assert first == {
        "1": {
            "name": "Ann",
            "pbs": [{"metric_type": "most_goals_in_game", "value": 2, "previous_best_value": 0}],
        }
    }
    # Ann has won four in a row and scored in four in a row: the scoring streak and
    # attendance PBs fire, a win streak PB never does (Q-P1). Ben lost four in a row.
    assert personal_bests(conn)[4] == {
        "1": {
            "name": "Ann",
            "pbs": [
                {"metric_type": "attendance_streak", "value": 4, "previous_best_value": 3},
                {"metric_type": "longest_scoring_streak", "value": 4, "previous_best_value": 3},
            ],
        },
        "2": {
            "name": "Ben",
            "pbs": [{"metric_type": "attendance_streak", "value": 4, "previous_best_value": 3}],
        },
    }

    add_game(conn, 5, dates[4], 3, 0, {1: 3}, {3: 0})
    call(conn, PBS)
    stored = personal_bests(conn)
    assert sorted(stored) == [1, 2, 3, 4, 5]
    assert stored[1] == first  # earlier rows are never recomputed (Q-P4)
    assert stored[5]["1"]["pbs"] == [
        {"metric_type": "most_goals_in_game", "value": 3, "previous_best_value": 2},
        {"metric_type": "attendance_streak", "value": 5, "previous_best_value": 4},
        {"metric_type": "longest_scoring_streak", "value": 5, "previous_best_value": 4},
    ]
    assert "2" not in stored[5]  # Ben missed it
    everything = json.dumps(stored)
    for metric in ("win_streak", "undefeated", "losing", "winless"):
        assert metric not in everything
    assert ("personal_bests", "personal_bests") in cache_keys(conn)


def test_personal_bests_earlier_means_a_smaller_match_id(conn: psycopg.Connection[Any]) -> None:
    add_player(conn, 1, "Ann")
    add_game(conn, 1, "2026-01-08", 1, 0, {1: 1}, {})
    add_game(conn, 3, "2026-01-15", 3, 0, {1: 3}, {})  # back-dated: a higher id, earlier date
    add_game(conn, 2, "2026-01-22", 2, 0, {1: 2}, {})  # the latest match
    call(conn, PBS)
    # Match 3 is not "earlier" than match 2 (Q-P2): 2 goals beat the previous best 1.
    assert personal_bests(conn)[2]["1"]["pbs"] == [
        {"metric_type": "most_goals_in_game", "value": 2, "previous_best_value": 1}
    ]


# ---------------------------------------------------------------- season race


def test_season_race_top_five_ordering_and_half(conn: psycopg.Connection[Any]) -> None:
    names = ["Fay", "Eve", "Dee", "Cat", "Bob", "Ann", "Gus"]
    for pid, name in enumerate(names, start=1):
        add_player(conn, pid, name)
    add_player(conn, 8, "Rob", ringer=True)
    # Points: Fay 30 + 20 = 50 (the second game, after today, still counts: Q-S4);
    # Eve, Dee, Cat, Bob and Ann 20 each (five tied for second place); Gus below 0.
    add_game(conn, 1, "2026-02-05", 1, 0, {1: 1}, {7: 0, 8: 0})
    add_game(conn, 2, "2026-12-03", 2, 1, {1: 2}, {7: 0})
    for pid in (2, 3, 4, 5, 6):
        add_game(conn, 10 + pid, f"2026-0{pid}-10", 2, 1, {pid: 2}, {7: 1})
    add_game(conn, 20, "2026-03-12", 1, 1, {7: 0}, {8: 1})  # Gus ends below 0: never shown

    call(conn, RACE, as_of="2026-03-15")

    season = race(conn)
    whole = season[(2026, "whole_season")]
    # Top five by points then name (Ann..Dee beat Eve), listed by player_id (Q-S2).
    assert [p["player_id"] for p in whole] == [1, 3, 4, 5, 6]
    assert whole[0] == {
        "player_id": 1,
        "name": "Fay",
        "cumulative_data": [
            {"date": "2026-01-01", "points": 0},
            {"date": "2026-02-05", "points": 30},
            {"date": "2026-12-03", "points": 50},
        ],
    }
    # First half (today 15 March): games up to 30 June, anchored on 1 January.
    half = season[(2026, "current_half")]
    assert [p["player_id"] for p in half] == [1, 3, 4, 5, 6]
    assert half[0]["cumulative_data"] == [
        {"date": "2026-01-01", "points": 0},
        {"date": "2026-02-05", "points": 30},
    ]


def test_season_race_keeps_rows_of_earlier_years(conn: psycopg.Connection[Any]) -> None:
    add_player(conn, 1, "Ann")
    add_player(conn, 2, "Ben")
    add_game(conn, 1, "2025-09-04", 1, 0, {1: 0}, {2: 0})
    call(conn, RACE, as_of="2025-12-01")
    before = race(conn)
    assert before[(2025, "current_half")] == [
        {
            "player_id": 1,
            "name": "Ann",
            "cumulative_data": [
                {"date": "2025-07-01", "points": 0},
                {"date": "2025-09-04", "points": 30},
            ],
        }
    ]
    ids_2025 = conn.execute(
        "SELECT race_data_id FROM aggregated_season_race_data WHERE season_year = 2025"
    ).fetchall()

    add_game(conn, 2, "2025-09-11", 0, 1, {1: 0}, {2: 1})  # corrects 2025 after New Year
    add_game(conn, 3, "2026-09-10", 0, 1, {1: 0}, {2: 1})
    call(conn, RACE)

    after = race(conn)
    assert after[(2025, "whole_season")] == before[(2025, "whole_season")]  # frozen (Q-S3)
    assert after[(2025, "current_half")] == before[(2025, "current_half")]
    assert (
        conn.execute(
            "SELECT race_data_id FROM aggregated_season_race_data WHERE season_year = 2025"
        ).fetchall()
        == ids_2025
    )
    assert [p["name"] for p in after[(2026, "whole_season")]] == ["Ben"]


# ---------------------------------------------------------------- profiles


def test_profile_null_handling_and_recomputed_clean_sheets(conn: psycopg.Connection[Any]) -> None:
    add_player(conn, 1, "Ann")
    add_player(conn, 2, "Ben")
    add_player(conn, 3, "Rob", ringer=True)
    add_match(conn, 1, "2025-05-01", 2, 0)
    add_row(conn, 1, 1, "A", 2, "win", False, False, False)  # stored flag wrong: CS anyway
    add_row(conn, 2, 1, "B", None, None, None, None, None)  # NULL result: 0 points here
    add_match(conn, 2, "2026-05-07", 1, 1)
    add_row(conn, 1, 2, "A", None, "draw", None, None, True)  # conceded: no clean sheet
    add_row(conn, 2, 2, "B", None, "draw")
    add_row(conn, 1, None, "A", 0, "win")  # no match: points only, no game
    add_row(conn, 3, 2, "B", 1, "draw")

    summary = call(conn, PROFILE)

    assert summary == {"rows": 2}
    rows = profiles(conn)
    assert sorted(rows) == [1, 2]  # no row for the ringer
    ann, ben = rows[1], rows[2]
    assert (ann["games_played"], ann["fantasy_points"]) == (2, 30 + 10 + 20)
    assert (ann["most_game_goals"], ann["most_game_goals_date"]) == (2, "2025-05-01")
    assert (ann["most_season_goals"], ann["most_season_goals_year"]) == (2, "2025")
    assert ann["yearly_stats"] == [
        {
            "year": 2026,
            "games_played": 1,
            "goals_scored": None,
            "fantasy_points": 10,
            "minutes_per_goal": None,
            "points_per_game": "10.0",
        },
        {
            "year": 2025,
            "games_played": 1,
            "goals_scored": 2,
            "fantasy_points": 30,
            "minutes_per_goal": "30.0",
            "points_per_game": "30.0",
        },
    ]
    assert (ann["scoring_streak"], ann["scoring_streak_dates"]) == (1, "2025-05-01 to 2025-05-01")
    assert (ann["undefeated_streak"], ann["undefeated_streak_dates"]) == (
        2,
        "2025-05-01 to 2026-05-07",
    )
    # Ben: a NULL result breaks every result streak and is worth 0.
    assert (ben["games_played"], ben["fantasy_points"]) == (2, 10)
    assert (ben["win_streak"], ben["win_streak_dates"]) == (0, None)
    assert (ben["winless_streak"], ben["winless_streak_dates"]) == (1, "2026-05-07 to 2026-05-07")
    assert (ben["most_game_goals"], ben["most_season_goals"]) == (None, None)
    assert ben["scoring_streak"] == 0 and ben["scoring_streak_dates"] is None
    assert ben["attendance_streak"] == 2


def test_profile_player_without_games_gets_zeros(conn: psycopg.Connection[Any]) -> None:
    add_player(conn, 1, "Ann")
    add_player(conn, 2, "Ben", retired=True)
    add_game(conn, 1, "2026-01-08", 1, 0, {1: 1}, {})
    call(conn, PROFILE)
    ben = profiles(conn)[2]
    assert ben["games_played"] == 0 and ben["fantasy_points"] == 0
    for kind in ("win", "losing", "undefeated", "winless", "attendance", "scoring"):
        assert ben[f"{kind}_streak"] == 0 and ben[f"{kind}_streak_dates"] is None
    assert ben["yearly_stats"] == [] and ben["teammate_chemistry_all"] == []


def test_profile_match_duration_errors_only_when_games_exist(
    conn: psycopg.Connection[Any],
) -> None:
    add_player(conn, 1, "Ann")
    set_config(conn, "match_duration_minutes", "sixty")
    assert call(conn, PROFILE) == {"rows": 1}  # no game: the bad value goes unnoticed

    add_player(conn, 2, "Rob", ringer=True)
    add_game(conn, 1, "2026-01-08", 1, 0, {2: 1}, {})  # a ringer's game is enough
    with pytest.raises(psycopg.errors.InvalidTextRepresentation) as failure:
        call(conn, PROFILE)
    assert "Error in" not in str(failure.value)  # not wrapped

    set_config(conn, "match_duration_minutes", "60.5")  # numeric: decimals accepted (Q-R5)
    add_game(conn, 2, "2026-01-15", 3, 0, {1: 3}, {})
    call(conn, PROFILE)
    assert profiles(conn)[1]["yearly_stats"][0]["minutes_per_goal"] == "20.2"


def test_teammate_chemistry(conn: psycopg.Connection[Any]) -> None:
    add_player(conn, 1, "Ann")
    add_player(conn, 2, "Ben")
    add_player(conn, 3, "Cat")
    add_player(conn, 4, "Dan", retired=True)
    add_player(conn, 5, "Eve", retired=None)
    add_player(conn, 6, "Rob", ringer=True)
    add_player(conn, 7, "Fay")
    add_player(conn, 8, "Abe")
    # Ten matches: Ann with Ben, Cat, Dan, Eve, Rob and Abe; Fay opposite. Ann wins
    # the first five without conceding (30 points each) and draws the rest (10);
    # Ben misses the last one.
    for match_id in range(1, 11):
        team_a = {1: 0, 3: 0, 4: 0, 5: 0, 6: 0, 8: 0}
        if match_id < 10:
            team_a[2] = 0
        score_b = 0 if match_id <= 5 else 1
        add_game(conn, match_id, f"2026-{match_id:02d}-05", 1, score_b, team_a, {7: score_b})
    add_row(conn, 1, 3, "A", 0, "win", False, False, True)  # Ann's duplicated row in match 3

    call(conn, PROFILE)

    ann = profiles(conn)[1]
    # Ben shares 9 matches: below the minimum of 10. Dan (retired), Eve (NULL
    # is_retired) and Rob (ringer) are never teammates; Fay played against Ann.
    # Cat and Abe: 10 distinct matches; the mean over the 11 pair rows counts match 3
    # twice: (5 * 30 + 30 + 5 * 10) / 11 = 20.909... Equal averages: by player id.
    expected = [
        {
            "player_id": 3,
            "name": "Cat",
            "games_played_with": 10,
            "average_fantasy_points_with": "20.91",
        },
        {
            "player_id": 8,
            "name": "Abe",
            "games_played_with": 10,
            "average_fantasy_points_with": "20.91",
        },
    ]
    assert ann["teammate_chemistry_all"] == expected
    # A json column with the keys in build order (spec 30 §4.3).
    keys = json.loads(ann["teammate_chemistry_text"], object_pairs_hook=lambda pairs: pairs)
    assert [k for k, _ in keys[0]] == [
        "player_id",
        "name",
        "games_played_with",
        "average_fantasy_points_with",
    ]
    # A retired player keeps a profile row and their own chemistry.
    dan = profiles(conn)[4]
    assert [m["player_id"] for m in dan["teammate_chemistry_all"]] == [1, 3, 8]


def test_profile_scoped_rows_equal_full_rows_with_odd_rows(conn: psycopg.Connection[Any]) -> None:
    """A post-match job's call (capo.scope_players) rewrites its players' rows exactly as
    a full run does, whatever rows the teammates have: repeated, without a team, on both
    teams or a third one of a match, without a match."""
    for player_id, name, retired, ringer in [
        (1, "Ann", False, False),
        (2, "Ben", False, False),
        (3, "Cat", False, False),
        (4, "Dan", True, False),
        (5, "Eve", False, False),
        (6, "Rob", False, True),
        (7, "Fay", False, False),
    ]:
        add_player(conn, player_id, name, retired=retired, ringer=ringer)
    for match_id in range(1, 14):
        score_a, score_b = [(2, 0), (1, 1), (0, 3), (5, 1)][match_id % 4]
        add_match(
            conn,
            match_id,
            f"2026-{(match_id + 1) // 2:02d}-{10 + match_id % 2:02d}",
            score_a,
            score_b,
        )
        if match_id == 3:
            add_row(conn, 2, 3, None, 0, "win")  # Ben: a row without a team first
        for player_id in (1, 2, 3, 4, 6):
            add_played(conn, player_id, match_id, "A", match_id % 3, score_a, score_b)
        for player_id in (5, 7):
            team = "C" if (match_id, player_id) == (5, 5) else "B"  # Eve: a third team
            add_played(conn, player_id, match_id, team, 1, score_a, score_b)
    add_played(conn, 1, 2, "A", 2, 1, 1)  # Ann twice in match 2
    add_played(conn, 3, 4, "B", 0, 0, 3)  # Cat on both teams of match 4
    add_played(conn, 4, 6, "A", 1, 1, 1)  # Dan (retired) twice in match 6
    add_played(conn, 7, 7, "B", 0, 0, 3)  # Fay twice in match 7
    add_row(conn, 1, None, "A", 1, "win")  # Ann: a row without a match

    call(conn, PROFILE)
    full = profiles(conn)
    assert full[1]["teammate_chemistry_all"] and full[5]["teammate_chemistry_all"]

    for scope in ([1], [2], [3], [4], [5], [7], [1, 3, 5, 7]):
        conn.execute(
            """UPDATE aggregated_player_profile_stats
               SET games_played = -1, win_streak = -1, yearly_stats = '[]',
                   teammate_chemistry_all = '[]'
               WHERE player_id = ANY(%s)""",
            (scope,),
        )
        with conn.transaction():
            conn.execute(
                "SELECT set_config('capo.scope_players', %s, true)",
                ("{" + ",".join(map(str, scope)) + "}",),
            )
            call(conn, PROFILE)
        assert profiles(conn) == full, f"scope {scope}"


def test_duplicated_rows_split_attendance_and_lengthen_result_streaks(
    conn: psycopg.Connection[Any],
) -> None:
    # Spec 30 Q-X3 (verified in the reference): four attended matches with one
    # duplicated row give an attendance streak of 3 and a win streak of 5.
    add_player(conn, 1, "Ann")
    for match_id in range(1, 5):
        add_game(conn, match_id, f"2026-01-{match_id * 7:02d}", 1, 0, {1: 0}, {})
    add_row(conn, 1, 2, "A", 0, "win", False, False, True)

    call(conn, PROFILE)
    call(conn, HONOURS)

    ann = profiles(conn)[1]
    assert (ann["games_played"], ann["win_streak"], ann["attendance_streak"]) == (5, 5, 3)
    doc = records(conn)
    assert doc["streaks"]["Win Streak"]["holders"] == [holder("Ann", 5, "2026-01-07", "2026-01-28")]
    assert doc["attendance_streak"] == [holder("Ann", 3, "2026-01-14", "2026-01-28")]


# ---------------------------------------------------------------- all four together


def test_running_twice_gives_identical_output(conn: psycopg.Connection[Any], db_url: str) -> None:
    league = load_fixture(db_url, "small")
    as_of = league.as_of.isoformat() if league.as_of else TODAY
    run_mine(conn, as_of=as_of)
    first = snapshot(conn)
    assert all(first[t] for t in MY_TABLES if t != "aggregated_season_honours")
    run_mine(conn, as_of=as_of)
    assert snapshot(conn) == first


def test_tenants_do_not_touch_each_other(conn: psycopg.Connection[Any], db_url: str) -> None:
    league = load_fixture(db_url, "tiny")
    as_of = league.as_of.isoformat() if league.as_of else TODAY
    conn.execute("INSERT INTO tenants (tenant_id, name) VALUES (%s, 'other')", (OTHER_TENANT,))
    other = {"tenant": OTHER_TENANT}
    add_player(conn, 901, "Zoe", tenant=OTHER_TENANT)
    add_player(conn, 902, "Yan", tenant=OTHER_TENANT)
    add_game(conn, 901, "2025-06-05", 5, 0, {901: 5}, {902: 0}, **other)
    add_game(conn, 902, "2026-11-19", 1, 0, {901: 1}, {902: 0}, **other)
    set_config(conn, "min_games_for_honours", "1", **other)

    run_mine(conn, as_of=as_of)
    tiny_alone = snapshot(conn)
    assert snapshot(conn, OTHER_TENANT) == {t: [] for t in MY_TABLES}

    run_mine(conn, tenant=OTHER_TENANT, as_of=as_of)
    assert snapshot(conn) == tiny_alone
    assert records(conn, OTHER_TENANT)["most_goals_in_game"] == [
        {"name": "Zoe", "goals": 5, "date": "2025-06-05", "score": "5-0"}
    ]
    assert list(honours(conn, OTHER_TENANT)) == [2025]  # its own min_games_for_honours
    assert list(personal_bests(conn, OTHER_TENANT)) == [902]
    assert sorted(profiles(conn, OTHER_TENANT)) == [901, 902]
    assert [p["name"] for p in race(conn, OTHER_TENANT)[(2026, "whole_season")]] == ["Zoe"]

    other_alone = snapshot(conn, OTHER_TENANT)
    run_mine(conn, as_of=as_of)
    assert snapshot(conn, OTHER_TENANT) == other_alone
    assert snapshot(conn) == tiny_alone


# ---------------------------------------------------------------- errors


def test_honours_and_race_wrap_errors_and_keep_previous_rows(
    conn: psycopg.Connection[Any],
) -> None:
    add_player(conn, 1, "Ann")
    add_game(conn, 1, "2026-01-08", 1, 0, {1: 1}, {})
    run_mine(conn)
    before = snapshot(conn)

    set_config(conn, "hall_of_fame_limit", "3.5")  # read, cast, never used (Q-H6)
    with pytest.raises(psycopg.errors.InvalidTextRepresentation) as failure:
        call(conn, HONOURS)
    assert str(failure.value).startswith(
        "Error in update_aggregated_season_honours_and_records: invalid input syntax"
    )

    set_config(conn, "fantasy_win_points", "lots")
    with pytest.raises(psycopg.errors.InvalidTextRepresentation) as failure:
        call(conn, RACE)
    assert str(failure.value).startswith(
        "Error in update_aggregated_season_race_data: invalid input syntax"
    )
    with pytest.raises(psycopg.errors.InvalidTextRepresentation) as failure:
        call(conn, PROFILE)
    assert not str(failure.value).startswith("Error in")  # not wrapped
    assert snapshot(conn) == before
