"""The per-function decision of a post-match job: scoped only where that is exact."""

from __future__ import annotations

import dataclasses
import datetime as dt

from capo_worker.stats.registry import STATS_FUNCTIONS
from capo_worker.stats.scope import SCOPED_RULES, MatchChange, plan

NAMES = [f.name for f in STATS_FUNCTIONS]
NEW_LATEST = MatchChange(
    match_id=40,
    today=dt.date(2026, 11, 26),
    state_as_of=dt.date(2026, 11, 19),
    inputs_same=True,
    matches_as_expected=True,
    old_date=None,
    new_date=dt.date(2026, 11, 26),
    old_players=(),
    new_players=(3, 1, 2),
    last_before=True,
    last_now=True,
    year_shared_before=True,
    year_shared_now=True,
)


def scoped(change: MatchChange) -> set[str]:
    return {name for name, s in plan(change, NAMES).items() if s.scoped}


# Scoped only on the day of the last complete run (NEW_LATEST is a week later).
SAME_DAY_ONLY = {"update_power_ratings"}


def test_a_new_latest_match_scopes_the_per_player_functions() -> None:
    scopes = plan(NEW_LATEST, NAMES)
    assert {n for n, s in scopes.items() if s.scoped} == set(SCOPED_RULES) - SAME_DAY_ONLY
    all_time = scopes["update_aggregated_all_time_stats"]
    assert all_time.players == (1, 2, 3) and all_time.label == "match 40, 3 players"
    assert all_time.setting() == "{1,2,3}"
    assert scopes["update_power_ratings"].label == "full"
    assert scopes["update_power_ratings"].setting() == ""


def test_an_edit_recomputes_the_players_before_and_after() -> None:
    edited = dataclasses.replace(NEW_LATEST, old_date=dt.date(2026, 11, 26), old_players=(1, 2, 9))
    assert plan(edited, NAMES)["update_aggregated_recent_performance"].players == (1, 2, 3, 9)


ATTENDANCE = {
    "update_aggregated_player_profile_stats",
    "update_aggregated_season_honours_and_records",
}


def test_a_past_match_runs_the_attendance_readers_in_full() -> None:
    late = dataclasses.replace(NEW_LATEST, last_now=False)
    deleted_past = dataclasses.replace(
        NEW_LATEST, old_date=dt.date(2026, 3, 1), new_date=None, last_before=False
    )
    for change in (late, deleted_past):
        assert scoped(change) == set(SCOPED_RULES) - ATTENDANCE - SAME_DAY_ONLY


def test_a_new_half_season_or_a_lonely_year_runs_the_season_tables_in_full() -> None:
    new_half = dataclasses.replace(NEW_LATEST, state_as_of=dt.date(2026, 6, 30))
    new_year = dataclasses.replace(NEW_LATEST, year_shared_now=False)
    same_half = dataclasses.replace(NEW_LATEST, state_as_of=dt.date(2026, 7, 1))
    assert "update_half_and_full_season_stats" not in scoped(new_half)
    assert "update_half_and_full_season_stats" not in scoped(new_year)
    assert "update_half_and_full_season_stats" in scoped(same_half)


def test_a_finished_season_runs_honours_and_records_in_full() -> None:
    last_year = dataclasses.replace(NEW_LATEST, old_date=dt.date(2025, 12, 30))
    new_year = dataclasses.replace(
        NEW_LATEST, today=dt.date(2027, 1, 3), new_date=dt.date(2027, 1, 3)
    )
    for change in (last_year, new_year):
        assert "update_aggregated_season_honours_and_records" not in scoped(change)


def test_the_match_report_is_scoped_for_any_change_to_one_match() -> None:
    # Past, deleted, in another half-season or year: only the players of the
    # match (and of the latest match) get their streaks recomputed.
    changes = (
        dataclasses.replace(NEW_LATEST, last_now=False),
        dataclasses.replace(NEW_LATEST, old_date=dt.date(2025, 3, 1), new_date=None),
        dataclasses.replace(NEW_LATEST, state_as_of=dt.date(2026, 6, 30)),
        dataclasses.replace(NEW_LATEST, today=dt.date(2027, 1, 3), year_shared_now=False),
    )
    for change in changes:
        report = plan(change, NAMES)["update_aggregated_match_report_cache"]
        assert report.players == change.players
        assert report.reason.startswith("the whole report, with the streaks of the match's")


def test_power_ratings_are_scoped_on_the_day_of_the_last_run_only() -> None:
    same_day = dataclasses.replace(NEW_LATEST, state_as_of=NEW_LATEST.today)
    late_same_day = dataclasses.replace(same_day, last_now=False)
    deleted_same_day = dataclasses.replace(
        same_day, old_date=dt.date(2026, 3, 1), old_players=(4, 5), new_date=None
    )
    for change in (same_day, late_same_day, deleted_same_day):
        scope = plan(change, NAMES)["update_power_ratings"]
        assert scope.players == change.players and scope.scoped
        assert scope.reason.startswith("the match's players' weighted sums, then every rating")
    assert plan(deleted_same_day, NAMES)["update_power_ratings"].setting() == "{1,2,3,4,5}"
    next_day = plan(NEW_LATEST, NAMES)["update_power_ratings"]
    assert not next_day.scoped
    assert next_day.reason == (
        "today (2026-11-26) is not the day of the last run (2026-11-19): every match's "
        "weight decayed"
    )
