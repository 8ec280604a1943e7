"""The latest-match card's lists: sorted best first, cut to SHOWN, the rest counted."""

from __future__ import annotations

import re

from capo_worker.web.report_view import SHOWN, report_lists


def test_streaks_are_sorted_longest_first_and_cut_with_a_count() -> None:
    streaks = [
        {"name": f"P{n:03d}", "streak_type": "win", "streak_count": n % 17 + 3} for n in range(150)
    ]
    goal_streaks = [
        {"name": f"G{n:02d}", "matches_with_goals": n + 2, "goals_in_streak": 9} for n in range(30)
    ]
    lists = report_lists({"streaks": streaks, "goal_streaks": goal_streaks}, [])
    (card,) = [item for item in lists if item.title == "Streaks"]
    assert len(card.entries) == SHOWN
    assert card.more == 180 - SHOWN
    assert card.entries[0].name == "G29" and card.entries[0].text.startswith("scored in 31")
    lengths = [int(re.findall(r"\d+", e.text)[0]) for e in card.entries]
    assert lengths == sorted(lengths, reverse=True)


def test_personal_bests_name_the_metric_and_the_previous_best() -> None:
    pbs = [
        {
            "player_id": 7,
            "name": "Ann",
            "pbs": [{"metric_type": "most_goals_in_game", "value": 3, "previous_best_value": 2}],
        }
    ]
    (card,) = report_lists({}, pbs)
    assert card.title == "Personal bests" and card.more == 0
    assert card.entries[0].player_id == 7
    assert card.entries[0].text == "3 goals in a game (was 2)"


def test_an_empty_report_has_no_lists() -> None:
    assert report_lists({"streaks": [], "game_milestones": None}, []) == []
