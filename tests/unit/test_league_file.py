"""League files checked before anything is written: every problem listed, warnings, the golden
leagues clean.
"""

from __future__ import annotations

import pytest

from capo_worker.league.checks import check_league, league_warnings
from capo_worker.league.model import (
    LeagueFileError,
    load_league_file,
    parse_league,
)
from tests.support.leagues import league_path, mutated, tiny_league_data

TINY = tiny_league_data()


def test_every_problem_is_listed_at_once() -> None:
    data = mutated(
        lambda d: (
            d["players"][0].__setitem__("is_ringer", "no"),
            d["matches"][1].__setitem__("team_a_score", "2"),
            d["player_matches"][2].__setitem__("player_id", 99),
        )
    )
    with pytest.raises(LeagueFileError) as caught:
        parse_league(data, source="f.json")
    assert len(caught.value.problems) == 3
    assert str(caught.value).startswith("f.json: 3 problems; nothing was imported.")


def test_report_is_capped_but_counts_everything() -> None:
    data = mutated(lambda d: [pm.__setitem__("goals", "0") for pm in d["player_matches"]])
    with pytest.raises(LeagueFileError) as caught:
        parse_league(data)
    message = str(caught.value)
    assert message.startswith("46 problems")
    assert "... and 26 more" in message


def test_zero_zero_draw_gives_both_sides_a_clean_sheet() -> None:
    data = mutated(lambda d: None)
    for pm in data["player_matches"]:
        del pm["clean_sheet"], pm["result"]
    league = parse_league(data)
    in_match_5 = [pm for pm in league.player_matches if pm.match_id == 5]
    assert in_match_5 and all(pm.clean_sheet and pm.result == "draw" for pm in in_match_5)


def test_stored_flag_that_disagrees_with_the_score_is_a_warning() -> None:
    league = parse_league(mutated(lambda d: d["player_matches"][0].__setitem__("heavy_win", True)))
    assert league_warnings(league) == [
        "player_matches row 1 (player_match_id 1): field 'heavy_win' is True but the score 3-2 "
        "(team A) gives False; the stats use the stored value. Leave the field out to derive it"
    ]
    with pytest.raises(LeagueFileError, match="1 consistency problem"):
        check_league(league, strict=True)


def test_match_without_players_is_a_warning() -> None:
    data = mutated(
        lambda d: d["matches"].append(
            {"match_id": 7, "match_date": "2026-11-27", "team_a_score": 0, "team_b_score": 0}
        )
    )
    assert league_warnings(parse_league(data)) == [
        "matches row 7 (match_id 7): no player_matches rows; the app never saves a match "
        "without players"
    ]


def test_golden_leagues_are_clean() -> None:
    for name in ("tiny", "small", "spring", "small_config", "capo"):
        assert league_warnings(load_league_file(league_path(name))) == [], name
