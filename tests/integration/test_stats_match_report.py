"""update_aggregated_match_report_cache beyond the goldens (spec 40-match-report).

Each test builds a small league of its own, so every expected value below can
be checked by hand. Dates count back from the latest match; "today" is pinned
through capo.as_of.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest

from capo_worker.constants import DEFAULT_TENANT_ID
from capo_worker.league.model import parse_league
from tests.support.db import execute, query
from tests.support.leagues import golden_dir, load_fixture, load_league

FN = "update_aggregated_match_report_cache"
AS_OF = "2026-11-28"
LATEST = dt.date(2026, 11, 26)
OTHER_TENANT = "00000000-0000-0000-0000-0000000000b2"

JSON_COLUMNS = (
    "team_a_players",
    "team_b_players",
    "game_milestones",
    "goal_milestones",
    "config_values",
    "half_season_goal_leaders",
    "half_season_fantasy_leaders",
    "season_goal_leaders",
    "season_fantasy_leaders",
    "feat_breaking_data",
    "streaks",
    "goal_streaks",
)


@dataclass
class Match:
    """One match: {player_id: goals} per team; scores are goals plus own goals."""

    date: dt.date
    a: dict[int, int]
    b: dict[int, int]
    a_own_goals: int = 0
    b_own_goals: int = 0


@dataclass
class LeagueBuilder:
    """A league in the neutral format, ids starting at `first_id`."""

    first_id: int = 1
    players: list[dict[str, Any]] = field(default_factory=list)
    matches: list[Match] = field(default_factory=list)
    config: dict[str, str] = field(default_factory=dict)

    def player(self, name: str, *, ringer: bool = False, retired: bool = False) -> int:
        pid = self.first_id + len(self.players)
        self.players.append(
            {"player_id": pid, "name": name, "is_ringer": ringer, "is_retired": retired}
        )
        return pid

    def match(
        self, days_before_latest: int, a: dict[int, int], b: dict[int, int], **own: int
    ) -> int:
        self.matches.append(Match(LATEST - dt.timedelta(days=days_before_latest), a, b, **own))
        return self.match_id(len(self.matches) - 1)

    def match_id(self, index: int) -> int:
        return self.first_id + index

    def document(self) -> dict[str, Any]:
        matches: list[dict[str, Any]] = []
        pms: list[dict[str, Any]] = []
        for i, m in enumerate(self.matches):
            mid = self.match_id(i)
            matches.append(
                {
                    "match_id": mid,
                    "match_date": m.date.isoformat(),
                    "team_a_score": sum(m.a.values()) + m.a_own_goals,
                    "team_b_score": sum(m.b.values()) + m.b_own_goals,
                    "team_a_own_goals": m.a_own_goals,
                    "team_b_own_goals": m.b_own_goals,
                }
            )
            for team, side in (("A", m.a), ("B", m.b)):
                for pid, goals in side.items():
                    pms.append(
                        {
                            "player_match_id": self.first_id + len(pms),
                            "player_id": pid,
                            "match_id": mid,
                            "team": team,
                            "goals": goals,
                        }
                    )
        return {
            "as_of": AS_OF,
            "app_config": {},
            "players": self.players,
            "matches": matches,
            "player_matches": pms,
        }

    def load(self, db_url: str, tenant_id: str = DEFAULT_TENANT_ID) -> None:
        load_league(db_url, parse_league(self.document()), tenant_id)
        # Config goes in as the app stores it, bypassing the importer's checks,
        # so that values the function must tolerate (or reject) can be tested.
        with psycopg.connect(db_url, autocommit=True) as conn:
            for key, value in self.config.items():
                conn.execute(
                    """INSERT INTO app_config (config_key, config_value, tenant_id)
                       VALUES (%s, %s, %s)""",
                    (key, value, tenant_id),
                )


def run_report(
    db_url: str, tenant_id: str = DEFAULT_TENANT_ID, as_of: str = AS_OF
) -> dict[str, Any]:
    with psycopg.connect(db_url, autocommit=True) as conn, conn.transaction():
        conn.execute("SELECT set_config('capo.as_of', %s, true)", (as_of,))
        row = conn.execute(f"SELECT {FN}(%s::uuid)".encode(), (tenant_id,)).fetchone()
    assert row is not None
    return dict(row[0])


def report_rows(db_url: str, tenant_id: str = DEFAULT_TENANT_ID) -> list[dict[str, Any]]:
    with psycopg.connect(db_url) as conn:
        cur = conn.execute(
            "SELECT * FROM aggregated_match_report WHERE tenant_id = %s", (tenant_id,)
        )
        names = [c.name for c in cur.description or ()]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def the_report(db_url: str, tenant_id: str = DEFAULT_TENANT_ID) -> dict[str, Any]:
    rows = report_rows(db_url, tenant_id)
    assert len(rows) == 1, rows
    return rows[0]


def set_records(db_url: str, records: dict[str, Any], tenant_id: str = DEFAULT_TENANT_ID) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("DELETE FROM aggregated_records WHERE tenant_id = %s", (tenant_id,))
        conn.execute(
            "INSERT INTO aggregated_records (records, tenant_id) VALUES (%s, %s)",
            (json.dumps(records), tenant_id),
        )


def records(
    *,
    most_goals: int = 1,
    win: int = 1,
    loss: int = 1,
    unbeaten: int = 1,
    winless: int = 1,
    goal_streak: int = 1,
    victory: tuple[int, int] = (1, 0),
) -> dict[str, Any]:
    """A records document (spec 30 §1.6) with the given record values."""

    def holders(streak: int) -> dict[str, Any]:
        return {"holders": [{"name": "Old", "streak": streak, "start_date": "2020-01-02"}]}

    return {
        "most_goals_in_game": [{"name": "Old", "goals": most_goals, "date": "2020-01-02"}],
        "biggest_victory": [{"team_a_score": victory[0], "team_b_score": victory[1]}],
        "consecutive_goals_streak": [{"name": "Old", "streak": goal_streak}],
        "streaks": {
            "Win Streak": holders(win),
            "Losing Streak": holders(loss),
            "Undefeated Streak": holders(unbeaten),
            "Winless Streak": holders(winless),
        },
        "attendance_streak": [{"name": "Old", "streak": 40}],
    }


def by_name(entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in entries}


# --- empty league -------------------------------------------------------------------------


def test_league_without_matches_succeeds_with_a_note(db_url: str) -> None:
    league = LeagueBuilder()
    league.player("Ann")
    league.load(db_url)
    # A report row left from an earlier state of the league must go.
    execute(
        db_url,
        """INSERT INTO aggregated_match_report (match_id, tenant_id, match_date, team_a_score,
                                               team_b_score)
           VALUES (999, %s, '2026-01-01', 1, 0)""",
        DEFAULT_TENANT_ID,
    )

    summary = run_report(db_url)

    assert summary["rows"] == 0
    assert "No matches found in the database" in summary["note"]
    assert report_rows(db_url) == []
    with psycopg.connect(db_url) as conn:
        cache = conn.execute(
            "SELECT dependency_type FROM cache_metadata WHERE cache_key = 'match_report'"
        ).fetchall()
    assert cache == [("match_report",)]


# --- basic run ----------------------------------------------------------------------------


def test_latest_match_with_only_ringers_gives_the_basic_run(db_url: str) -> None:
    league = LeagueBuilder()
    ann, ben, cat, dan = (league.player(n) for n in ("Ann", "Ben", "Cat", "Dan"))
    rob = league.player("Rob", ringer=True)
    ray = league.player("Ray", ringer=True)
    for days in (28, 21, 14, 7):
        league.match(days, {ann: 2, ben: 0}, {cat: 1, dan: 0})
    latest = league.match(0, {rob: 2}, {ray: 1}, a_own_goals=1)
    league.load(db_url)
    set_records(db_url, records())

    assert run_report(db_url) == {"rows": 1}

    row = the_report(db_url)
    assert row["match_id"] == latest
    assert (row["team_a_score"], row["team_b_score"]) == (3, 1)
    assert row["team_a_players"] == ["Rob"]
    assert row["team_b_players"] == ["Ray"]
    assert row["team_a_scorers"] == "Rob (2), OG (1)"
    assert row["team_b_scorers"] == "Ray"
    assert row["config_values"] == {"game_milestone_threshold": 50, "goal_milestone_threshold": 25}
    for column in (
        "half_season_goal_leaders",
        "half_season_fantasy_leaders",
        "season_goal_leaders",
        "season_fantasy_leaders",
    ):
        assert row[column] == {}, column  # an object, not an array (Q4)
    for column in ("game_milestones", "goal_milestones", "feat_breaking_data", "streaks"):
        assert row[column] == [], column
    assert row["goal_streaks"] == []
    # On Fire / Grim Reaper are computed before the basic-run check.
    assert row["on_fire_player_id"] == ann
    assert row["grim_reaper_player_id"] == dan


def test_scorer_lines_and_team_lists(db_url: str) -> None:
    league = LeagueBuilder()
    zed, bob, amy = league.player("Zed"), league.player("bob"), league.player("Amy")
    ron = league.player("Ron", ringer=True)
    kim = league.player("Kim")
    league.match(0, {zed: 1, bob: 3, amy: 0, ron: 2}, {kim: 0}, a_own_goals=1, b_own_goals=2)
    league.load(db_url)

    run_report(db_url)

    row = the_report(db_url)
    # Code-point order: uppercase before lowercase; ringers are listed.
    assert row["team_a_players"] == ["Amy", "Ron", "Zed", "bob"]
    assert row["team_a_scorers"] == "Ron (2), Zed, bob (3), OG (1)"
    assert row["team_b_players"] == ["Kim"]
    assert row["team_b_scorers"] == "OG (2)"  # own goals alone, count always shown
    assert row["match_date"] == dt.datetime(2026, 11, 26, tzinfo=dt.UTC)


# --- milestones ---------------------------------------------------------------------------


def test_milestones_follow_configured_thresholds(db_url: str) -> None:
    league = LeagueBuilder(
        config={"game_milestone_threshold": "3", "goal_milestone_threshold": "5"}
    )
    ann, ben, cat, dan = (league.player(n) for n in ("Ann", "Ben", "Cat", "Dan"))
    rex = league.player("Rex", ringer=True)
    league.match(14, {ann: 4, cat: 4}, {dan: 5, rex: 0})
    league.match(7, {ann: 0}, {ben: 0, rex: 0})
    league.match(0, {ann: 2, cat: 7}, {ben: 0, dan: 0, rex: 0})
    league.load(db_url)

    run_report(db_url)

    row = the_report(db_url)
    # Ann and Rex played 3 games; Rex is a ringer. Ben and Cat played 2, Dan 2.
    assert row["game_milestones"] == [{"name": "Ann", "value": 3}]
    # Ann 4 -> 6 crosses 5; Cat 4 -> 11 crosses 5 and 10 (only the higher is
    # reported); Dan has 5 goals but scored none in this match.
    assert sorted(row["goal_milestones"], key=lambda e: e["name"]) == [
        {"name": "Ann", "value": 5},
        {"name": "Cat", "value": 10},
    ]


def test_default_game_milestone_is_every_fifty_games(db_url: str) -> None:
    league = LeagueBuilder()
    ann, ben = league.player("Ann"), league.player("Ben")
    for week in range(49, -1, -1):  # 50 weekly games, the last on the latest date
        league.match(7 * week, {ann: 0}, {ben: 0})
    league.load(db_url)

    run_report(db_url)

    row = the_report(db_url)
    assert row["game_milestones"] == [{"name": "Ann", "value": 50}, {"name": "Ben", "value": 50}]


def test_milestone_threshold_zero_lists_nothing(db_url: str) -> None:
    league = LeagueBuilder(
        config={"game_milestone_threshold": "0", "goal_milestone_threshold": "-1"}
    )
    ann, ben = league.player("Ann"), league.player("Ben")
    league.match(0, {ann: 3}, {ben: 1})
    league.load(db_url)

    run_report(db_url)

    row = the_report(db_url)
    assert row["game_milestones"] == []
    assert row["goal_milestones"] == []


# --- streaks ------------------------------------------------------------------------------


def test_current_streaks_selection_cap_and_nulls(db_url: str) -> None:
    league = LeagueBuilder()
    ann = league.player("Ann")  # wins all 25: capped at 20
    ben = league.player("Ben")  # loses all 25, retired: still listed (Q1)
    cat = league.player("Cat")  # 5 draws then 4 wins (newest): win 4, not unbeaten 9
    dan = league.player("Dan")  # wins his 9 games, scores in the last 4
    ron = league.player("Ron", ringer=True)  # ringers have no streaks
    eve = league.player("Eve")  # did not play the latest match but is on a run
    for i in range(25):
        days = 7 * (24 - i)
        a = {ann: 1, ron: 0}
        b = {ben: 0}
        if i >= 16:
            a[cat] = 0
            a[dan] = 2 if i >= 21 else 0
        if 16 <= i < 24:
            b[eve] = 0
        league.match(days, a, b)
    league.load(db_url)
    execute(db_url, "UPDATE players SET is_retired = true WHERE player_id = %s", ben)
    # Cat's first five games (i = 16..20) become draws, the last four stay wins.
    execute(
        db_url,
        """UPDATE player_matches SET result = 'draw'
            WHERE player_id = %s AND match_id BETWEEN %s AND %s""",
        cat,
        league.match_id(16),
        league.match_id(20),
    )
    # A NULL result is skipped (neither counts nor breaks) but uses a slot.
    execute(
        db_url,
        "UPDATE player_matches SET result = NULL WHERE player_id = %s AND match_id = %s",
        ann,
        league.match_id(22),
    )

    run_report(db_url)

    row = the_report(db_url)
    streaks = by_name(row["streaks"])
    assert set(streaks) == {"Ann", "Ben", "Cat", "Dan", "Eve"}
    assert streaks["Ann"] == {"name": "Ann", "streak_type": "win", "streak_count": 19}
    assert streaks["Ben"] == {"name": "Ben", "streak_type": "loss", "streak_count": 20}
    assert streaks["Cat"]["streak_type"] == "win"
    assert streaks["Cat"]["streak_count"] == 4
    assert streaks["Dan"]["streak_type"] == "win"
    assert streaks["Dan"]["streak_count"] == 9
    assert streaks["Eve"] == {"name": "Eve", "streak_type": "loss", "streak_count": 8}
    assert by_name(row["goal_streaks"]) == {
        "Ann": {"name": "Ann", "matches_with_goals": 20, "goals_in_streak": 20},  # capped
        "Dan": {"name": "Dan", "matches_with_goals": 4, "goals_in_streak": 8},
    }
    assert row["config_values"] == {
        "win_streak_threshold": 4,
        "unbeaten_streak_threshold": 6,
        "loss_streak_threshold": 4,
        "winless_streak_threshold": 6,
        "goal_streak_threshold": 3,
    }


def test_streaks_follow_dates_when_matches_were_entered_out_of_order(db_url: str) -> None:
    # The ten newest matches by date have the smallest ids: the twenty older
    # ones were entered afterwards. The 20 latest games are the ten newest by
    # date, then the ten newest of the older ones, whatever the ids.
    league = LeagueBuilder()
    ann = league.player("Ann")  # wins the ten newest, loses the older ones
    bob = league.player("Bob")
    for i in range(10):
        league.match(7 * i, {ann: 1}, {bob: 0})
    for i in range(20):
        league.match(100 + 7 * i, {ann: 0}, {bob: 1})
    league.load(db_url)

    run_report(db_url)

    row = the_report(db_url)
    assert by_name(row["streaks"]) == {
        "Ann": {"name": "Ann", "streak_type": "win", "streak_count": 10},
        "Bob": {"name": "Bob", "streak_type": "loss", "streak_count": 10},
    }
    assert by_name(row["goal_streaks"]) == {
        "Ann": {"name": "Ann", "matches_with_goals": 10, "goals_in_streak": 10},
    }


def test_streak_thresholds_come_from_config(db_url: str) -> None:
    league = LeagueBuilder(
        config={
            "win_streak_threshold": "10",
            "unbeaten_streak_threshold": "3",
            "loss_streak_threshold": "5",
            "winless_streak_threshold": "2",
            "goal_streak_threshold": "5",
        }
    )
    ann, ben = league.player("Ann"), league.player("Ben")
    for days in (21, 14, 7, 0):
        league.match(days, {ann: 1}, {ben: 0})
    league.load(db_url)

    run_report(db_url)

    row = the_report(db_url)
    # Ann's 4 wins miss the win threshold 10 but make the unbeaten threshold 3;
    # Ben's 4 losses miss the loss threshold 5 and count as winless (>= 2).
    assert by_name(row["streaks"]) == {
        "Ann": {"name": "Ann", "streak_type": "unbeaten", "streak_count": 4},
        "Ben": {"name": "Ben", "streak_type": "winless", "streak_count": 4},
    }
    assert row["goal_streaks"] == []  # 4 scoring games < 5
    assert row["config_values"] == {
        "win_streak_threshold": 10,
        "unbeaten_streak_threshold": 3,
        "loss_streak_threshold": 5,
        "winless_streak_threshold": 2,
        "goal_streak_threshold": 5,
    }


def test_zero_thresholds_list_every_regular_player(db_url: str) -> None:
    league = LeagueBuilder(config={"win_streak_threshold": "0", "goal_streak_threshold": "0"})
    ann, ben = league.player("Ann"), league.player("Ben")
    league.player("Cid")  # never played
    league.player("Rex", ringer=True)
    league.match(0, {ann: 1}, {ben: 0})
    league.load(db_url)

    run_report(db_url)

    row = the_report(db_url)
    # "win" is the first type checked, and 0 >= 0 (spec 40 §4).
    assert row["streaks"] == [
        {"name": "Ann", "streak_type": "win", "streak_count": 1},
        {"name": "Ben", "streak_type": "win", "streak_count": 0},
        {"name": "Cid", "streak_type": "win", "streak_count": 0},
    ]
    # Our choice where the spec is silent: a player without a scoring run
    # has 0 goals in it, not null.
    assert row["goal_streaks"] == [
        {"name": "Ann", "matches_with_goals": 1, "goals_in_streak": 1},
        {"name": "Ben", "matches_with_goals": 0, "goals_in_streak": 0},
        {"name": "Cid", "matches_with_goals": 0, "goals_in_streak": 0},
    ]


# --- On Fire / Grim Reaper ----------------------------------------------------------------


def on_fire_league(config: dict[str, str]) -> LeagueBuilder:
    """Weekly matches: Pia wins all six, Gus loses all six, Tia plays (and
    scores in) only the last three, which are heavy clean-sheet wins."""
    league = LeagueBuilder(config=config)
    pia, gus, tia = league.player("Pia"), league.player("Gus"), league.player("Tia")
    for days in (35, 28, 21):
        league.match(days, {pia: 1}, {gus: 0})
    for days in (14, 7, 0):
        league.match(days, {pia: 0, tia: 5}, {gus: 0})
    return league


@pytest.mark.parametrize(
    ("config", "on_fire", "grim_reaper"),
    [
        ({}, "Pia", "Gus"),  # window 45 days, 4 games: Tia has too few
        (
            {"on_fire_grim_reaper_window_days": "14", "on_fire_grim_reaper_min_games": "3"},
            "Tia",  # level with Pia on 120 points, more goals
            "Gus",
        ),
        (
            {"on_fire_grim_reaper_window_days": "abc", "on_fire_grim_reaper_min_games": "0"},
            "Pia",  # bad values fall back to the defaults
            "Gus",
        ),
        ({"on_fire_grim_reaper_min_games": "7"}, None, None),  # nobody qualifies
    ],
)
def test_on_fire_and_grim_reaper_config(
    db_url: str, config: dict[str, str], on_fire: str | None, grim_reaper: str | None
) -> None:
    on_fire_league(config).load(db_url)

    run_report(db_url)

    row = the_report(db_url)
    ids = {"Pia": 1, "Gus": 2, "Tia": 3, None: None}
    assert row["on_fire_player_id"] == ids[on_fire]
    assert row["grim_reaper_player_id"] == ids[grim_reaper]


def test_single_qualifier_is_both_on_fire_and_grim_reaper(db_url: str) -> None:
    league = on_fire_league({"on_fire_grim_reaper_min_games": "4"})
    league.load(db_url)
    execute(db_url, "UPDATE players SET is_ringer = true WHERE name = 'Gus'")

    run_report(db_url)

    row = the_report(db_url)
    assert row["on_fire_player_id"] == row["grim_reaper_player_id"] == 1


# --- leaders ------------------------------------------------------------------------------


def test_leader_change_types(db_url: str) -> None:
    league = LeagueBuilder()
    xan, yul, zoe = league.player("Xan"), league.player("Yul"), league.player("Zoe")
    league.match(14, {xan: 6}, {yul: 4, zoe: 0})
    league.match(7, {xan: 4}, {yul: 4, zoe: 0})
    league.match(0, {xan: 0}, {yul: 2, zoe: 0})  # Yul reaches Xan's 10
    league.load(db_url)

    run_report(db_url)

    row = the_report(db_url)
    # Xan led with 10 before the match: Xan remains, Yul (now 10 = Xan's
    # before-total) is "tied".
    assert row["season_goal_leaders"] == [
        {
            "new_leader": "Xan",
            "new_leader_goals": 10,
            "previous_leader": "Xan",
            "previous_leader_goals": 10,
            "change_type": "remains",
        },
        {
            "new_leader": "Yul",
            "new_leader_goals": 10,
            "previous_leader": "Xan",
            "previous_leader_goals": 10,
            "change_type": "tied",
        },
    ]
    assert row["half_season_goal_leaders"] == row["season_goal_leaders"]
    # Points: Xan 20 (win) + 10 (draw) - 10 (loss) = 20, 30 before the match;
    # Yul and Zoe -10 + 10 + 30 (clean-sheet win) = 30, 0 before. Both lead
    # with Xan's before-total: "tied", though Xan is no longer level.
    assert [
        (e["new_leader"], e["new_leader_points"], e["previous_leader_points"], e["change_type"])
        for e in row["season_fantasy_leaders"]
    ] == [("Yul", 30, 30, "tied"), ("Zoe", 30, 30, "tied")]


def test_previous_leader_may_have_zero_goals(db_url: str) -> None:
    league = LeagueBuilder()
    ann, ben = league.player("Ann"), league.player("Ben")
    league.match(7, {ann: 0}, {ben: 0})
    league.match(0, {ann: 0}, {ben: 1})
    league.load(db_url)

    run_report(db_url)

    # Nobody scored before, so the previous goal leader is the first name
    # among players on 0 (no > 0 filter, Q6).
    assert the_report(db_url)["season_goal_leaders"] == [
        {
            "new_leader": "Ben",
            "new_leader_goals": 1,
            "previous_leader": "Ann",
            "previous_leader_goals": 0,
            "change_type": "overtake",
        }
    ]


def test_first_match_of_a_season_has_new_leaders_only(db_url: str) -> None:
    league = LeagueBuilder()
    ann, ben = league.player("Ann"), league.player("Ben")
    league.match(60, {ann: 3}, {ben: 0})  # 2026-09-27, last season
    league.matches.append(Match(dt.date(2027, 1, 14), {ann: 0}, {ben: 1}))
    league.load(db_url)

    run_report(db_url, as_of="2027-01-20")

    row = the_report(db_url)
    expected = [
        {
            "new_leader": "Ben",
            "new_leader_goals": 1,
            "previous_leader": None,
            "previous_leader_goals": None,
            "change_type": "new_leader",
        }
    ]
    assert row["season_goal_leaders"] == expected
    assert row["half_season_goal_leaders"] == expected
    assert row["season_fantasy_leaders"][0]["new_leader"] == "Ben"
    assert row["season_fantasy_leaders"][0]["change_type"] == "new_leader"
    # Run on a later day whose half-season has no match: half lists are empty.
    run_report(db_url, as_of="2027-07-02")
    row = the_report(db_url)
    assert row["half_season_goal_leaders"] == []
    assert row["half_season_fantasy_leaders"] == []
    assert row["season_goal_leaders"] == expected


# --- feats --------------------------------------------------------------------------------


def feat_league() -> LeagueBuilder:
    """Ann wins five in a row, the last 5-0 with 4 goals; Ben loses all five."""
    league = LeagueBuilder(config={"goal_milestone_threshold": "4"})
    ann, ben = league.player("Ann"), league.player("Ben")
    for days in (28, 21, 14, 7):
        league.match(days, {ann: 1}, {ben: 0})
    league.match(0, {ann: 4, 3: 1}, {ben: 0})
    league.player("Cal")
    return league


def feats(db_url: str) -> list[tuple[str, str, int, int, str]]:
    return [
        (f["feat_type"], f["player_name"], f["new_value"], f["current_record"], f["status"])
        for f in the_report(db_url)["feat_breaking_data"]
    ]


def test_records_broken_and_equaled(db_url: str) -> None:
    feat_league().load(db_url)

    # No records row at all: no feats, even for the team result.
    run_report(db_url)
    assert the_report(db_url)["feat_breaking_data"] == []

    set_records(db_url, records(most_goals=3, win=4, loss=5, goal_streak=9, victory=(1, 5)))
    run_report(db_url)
    assert feats(db_url) == [
        # broken first, then value descending, then name
        ("win_streak", "Ann", 5, 4, "broken"),
        ("biggest_victory", "Team Result", 5, -4, "broken"),  # signed record (Q10)
        ("most_goals_in_game", "Ann", 4, 3, "broken"),
        ("loss_streak", "Ben", 5, 5, "equaled"),
    ]
    team = the_report(db_url)["feat_breaking_data"][1]
    assert team["player_id"] is None
    assert the_report(db_url)["feat_breaking_data"][0]["player_id"] == 1

    set_records(db_url, records(most_goals=4, win=5, loss=6, goal_streak=5, victory=(0, 5)))
    run_report(db_url)
    assert feats(db_url) == [
        # equal values: by name; one player's equal feats in the spec's table order
        ("win_streak", "Ann", 5, 5, "equaled"),
        ("goal_streak", "Ann", 5, 5, "equaled"),
        ("biggest_victory", "Team Result", 5, -5, "equaled"),
        ("most_goals_in_game", "Ann", 4, 4, "equaled"),
    ]


def test_missing_records_count_as_zero(db_url: str) -> None:
    feat_league().load(db_url)
    set_records(db_url, {"streaks": {}})

    run_report(db_url)

    assert feats(db_url) == [
        ("win_streak", "Ann", 5, 0, "broken"),
        ("goal_streak", "Ann", 5, 0, "broken"),
        ("loss_streak", "Ben", 5, 0, "broken"),
        ("biggest_victory", "Team Result", 5, 0, "broken"),
        ("most_goals_in_game", "Ann", 4, 0, "broken"),
    ]


def test_attendance_feat_never_fires(db_url: str) -> None:
    feat_league().load(db_url)
    set_records(db_url, records(most_goals=9, win=9, loss=9, goal_streak=9, victory=(9, 0)))
    # Personal bests as update_aggregated_personal_bests writes them: keyed by
    # player id, with a pbs array. The name lookup finds nothing (Q9).
    pbs = {
        "1": {
            "name": "Ann",
            "pbs": [{"metric_type": "attendance_streak", "value": 50, "previous_best_value": 4}],
        }
    }
    execute(
        db_url,
        "INSERT INTO aggregated_personal_bests (match_id, broken_pbs_data) VALUES (5, %s)",
        json.dumps(pbs),
    )

    run_report(db_url)

    assert feats(db_url) == []


def test_sequential_order_reports_a_new_record_as_equaled(db_url: str) -> None:
    """With the records rebuilt first (the legacy route's order, our graph's
    edge), a record set in the latest match equals itself (Q8)."""
    feat_league().load(db_url)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("SELECT update_aggregated_season_honours_and_records()")

    run_report(db_url)

    assert ("win_streak", "Ann", 5, 5, "equaled") in feats(db_url)
    assert ("biggest_victory", "Team Result", 5, 5, "equaled") in feats(db_url)


# --- idempotence, tenants, errors, concurrency ----------------------------------------------


def comparable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "last_updated"}


def test_running_twice_gives_identical_output(db_url: str) -> None:
    league = load_fixture(db_url, "tiny")
    golden = json.loads((golden_dir("tiny") / "aggregated_records.json").read_text())
    set_records(db_url, golden["rows"][0]["records"])
    as_of = league.as_of.isoformat() if league.as_of else AS_OF

    run_report(db_url, as_of=as_of)
    first = comparable(the_report(db_url))
    run_report(db_url, as_of=as_of)
    second = comparable(the_report(db_url))

    assert first == second
    assert first["feat_breaking_data"] != []  # the comparison covers the feats too
    with psycopg.connect(db_url) as conn:
        count = conn.execute("SELECT count(*) FROM cache_metadata").fetchone()
    assert count == (1,)


def run_scoped_report(db_url: str, players: list[int], as_of: str) -> dict[str, Any]:
    """The report as a scoped post-match run computes it (capo.scope_players set)."""
    with psycopg.connect(db_url, autocommit=True) as conn, conn.transaction():
        conn.execute("SELECT set_config('capo.as_of', %s, true)", (as_of,))
        conn.execute(
            "SELECT set_config('capo.scope_players', %s, true)",
            ("{" + ",".join(map(str, players)) + "}",),
        )
        row = conn.execute(f"SELECT {FN}(%s::uuid)".encode(), (DEFAULT_TENANT_ID,)).fetchone()
    assert row is not None
    return dict(row[0])


def test_a_scoped_run_keeps_the_other_players_streaks_of_the_previous_report(
    db_url: str,
) -> None:
    league = load_fixture(db_url, "capo")
    as_of = league.as_of.isoformat() if league.as_of else AS_OF
    assert run_report(db_url, as_of=as_of) == {"rows": 1}
    full = comparable(the_report(db_url))
    assert full["streaks"] and full["goal_streaks"]  # the comparison covers both lists

    # An old match's players: theirs and the latest match's players' streaks are
    # recomputed, everyone else's are read back from the previous report.
    old_match, latest = query(
        db_url,
        "SELECT (SELECT min(match_id) FROM matches),"
        " (SELECT match_id FROM matches ORDER BY match_date DESC, match_id DESC LIMIT 1)",
    )[0]
    old_players = [
        int(r[0])
        for r in query(
            db_url, "SELECT DISTINCT player_id FROM player_matches WHERE match_id = %s", old_match
        )
    ]
    summary = run_scoped_report(db_url, old_players, as_of)
    assert "kept from the previous report" in summary["streaks"]
    assert comparable(the_report(db_url)) == full

    # Proof that they are read back: a planted entry of a player outside the
    # scope survives, while a planted entry of a player in the scope is replaced.
    outsider, insider = query(
        db_url,
        """SELECT (SELECT min(name) FROM players WHERE NOT is_ringer AND player_id NOT IN
                     (SELECT player_id FROM player_matches WHERE match_id IN (%s, %s))),
                  (SELECT min(p.name) FROM players p JOIN player_matches pm USING (player_id)
                    WHERE pm.match_id = %s AND NOT p.is_ringer
                      AND p.name NOT IN (SELECT e ->> 'name' FROM aggregated_match_report r,
                                              jsonb_array_elements(r.streaks) e))""",
        old_match,
        latest,
        old_match,
    )[0]
    assert outsider is not None and insider is not None
    planted = [
        {"name": outsider, "streak_type": "win", "streak_count": 99},
        {"name": insider, "streak_type": "win", "streak_count": 99},
    ]
    execute(
        db_url,
        "UPDATE aggregated_match_report SET streaks = streaks || %s::jsonb",
        json.dumps(planted),
    )
    run_scoped_report(db_url, old_players, as_of)
    names = [e["name"] for e in the_report(db_url)["streaks"]]
    assert outsider in names and insider not in names

    # Without a previous report that holds streaks, every player is recomputed.
    for change in (
        "DELETE FROM aggregated_match_report",
        # the "basic" run's report: no streak thresholds, no streaks
        "UPDATE aggregated_match_report SET config_values = '{}', streaks = '[]'",
    ):
        run_report(db_url, as_of=as_of)
        execute(db_url, change)
        summary = run_scoped_report(db_url, old_players, as_of)
        assert summary["streaks"].startswith("every player recomputed")
        assert comparable(the_report(db_url)) == full


def test_tenants_are_isolated(db_url: str) -> None:
    execute(
        db_url,
        "INSERT INTO tenants (tenant_id, name) VALUES (%s, 'second club')",
        OTHER_TENANT,
    )
    # Same names in both clubs; ids must differ (they are global serials).
    first = feat_league()
    first.load(db_url)
    second = LeagueBuilder(first_id=101, config={"loss_streak_threshold": "2"})
    ann, ben = second.player("Ann"), second.player("Ben")
    for days in (14, 7, 0):
        second.match(days, {ben: 2}, {ann: 0})
    second.load(db_url, OTHER_TENANT)
    set_records(db_url, records(loss=1, victory=(0, 1)), OTHER_TENANT)
    # The first club's records are the newest row of the table.
    set_records(db_url, records(most_goals=9, win=9, loss=9, goal_streak=9, victory=(9, 0)))

    run_report(db_url)
    before = the_report(db_url)
    assert before["feat_breaking_data"] == []  # nothing beats its own records
    run_report(db_url, OTHER_TENANT)

    assert comparable(the_report(db_url)) == comparable(before)
    assert the_report(db_url)["last_updated"] == before["last_updated"]
    other = the_report(db_url, OTHER_TENANT)
    assert other["tenant_id"] == uuid.UUID(OTHER_TENANT)
    assert other["match_id"] == 103
    assert other["team_a_players"] == ["Ben"]
    assert by_name(other["streaks"])["Ann"] == {
        "name": "Ann",
        "streak_type": "loss",
        "streak_count": 3,
    }
    assert other["config_values"]["loss_streak_threshold"] == 2
    # Judged against the second club's records, not the first's.
    assert [(f["feat_type"], f["status"]) for f in other["feat_breaking_data"]] == [
        ("loss_streak", "broken"),
        ("goal_streak", "broken"),
        ("biggest_victory", "broken"),
    ]
    with psycopg.connect(db_url) as conn:
        tenants = conn.execute(
            "SELECT tenant_id::text FROM cache_metadata WHERE cache_key = 'match_report' ORDER BY 1"
        ).fetchall()
    assert tenants == [(DEFAULT_TENANT_ID,), (OTHER_TENANT,)]


@pytest.mark.parametrize(
    ("key", "value"),
    [("win_streak_threshold", "4.5"), ("hall_of_fame_limit", "three")],
)
def test_errors_are_wrapped_and_keep_the_previous_report(db_url: str, key: str, value: str) -> None:
    feat_league().load(db_url)
    run_report(db_url)
    before = the_report(db_url)
    execute(
        db_url,
        "INSERT INTO app_config (config_key, config_value) VALUES (%s, %s)",
        key,
        value,
    )

    with pytest.raises(psycopg.Error) as caught:
        run_report(db_url)

    message = str(caught.value)
    assert message.startswith(f"Error in {FN}: invalid input syntax for type integer")
    assert the_report(db_url) == before


def test_overlapping_runs_wait_for_each_other(db_url: str) -> None:
    feat_league().load(db_url)
    outcome: dict[str, Any] = {}

    def second_run() -> None:
        try:
            outcome["summary"] = run_report(db_url)
        except psycopg.Error as exc:  # pragma: no cover - reported below
            outcome["error"] = str(exc)

    with psycopg.connect(db_url) as first:
        first.execute("SELECT set_config('capo.as_of', %s, true)", (AS_OF,))
        first.execute(f"SELECT {FN}()".encode())  # holds the lock until commit
        thread = threading.Thread(target=second_run)
        thread.start()
        waited = False
        for _ in range(100):
            with psycopg.connect(db_url) as probe:
                row = probe.execute(
                    """SELECT count(*) FROM pg_locks
                        WHERE locktype = 'advisory' AND NOT granted"""
                ).fetchone()
            if row and row[0] > 0:
                waited = True
                break
            time.sleep(0.05)
        first.commit()
    thread.join(timeout=30)

    assert waited, "the second run did not wait for the first"
    assert outcome == {"summary": {"rows": 1}}
    assert len(report_rows(db_url)) == 1


def linguistic_collation(db_url: str) -> str | None:
    """A collation that sorts 'bob' before 'Zed', if the server has one."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        names = [
            r[0]
            for r in conn.execute(
                """SELECT collname FROM pg_collation
                    WHERE collname IN ('en_US.utf8', 'en_US.UTF-8', 'en_US', 'en-x-icu',
                                       'und-x-icu')"""
            ).fetchall()
        ]
        for name in names:
            try:
                row = conn.execute(
                    f"""SELECT 'bob' < 'Zed' COLLATE "{name}" """.encode()
                ).fetchone()
            except psycopg.Error:
                continue
            if row and row[0]:
                return str(name)
    return None


def test_names_sort_in_code_point_order_whatever_the_column_collation(db_url: str) -> None:
    collation = linguistic_collation(db_url)
    if collation is None:
        pytest.skip("the server has no linguistic collation to test against")
    execute(
        db_url,
        f'ALTER TABLE players ALTER COLUMN name TYPE varchar(14) COLLATE "{collation}"',
    )
    league = LeagueBuilder()
    zed, bob, amy = league.player("Zed"), league.player("bob"), league.player("Amy")
    kim = league.player("Kim")
    league.match(0, {zed: 1, bob: 1, amy: 1}, {kim: 0})
    league.load(db_url)

    run_report(db_url)

    row = the_report(db_url)
    assert row["team_a_players"] == ["Amy", "Zed", "bob"]
    assert row["team_a_scorers"] == "Amy, Zed, bob"
    assert [e["new_leader"] for e in row["season_goal_leaders"]] == ["Amy", "Zed", "bob"]
