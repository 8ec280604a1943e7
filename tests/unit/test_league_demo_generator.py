"""The demo league generator: the same seed gives the same league, and every league is one the
importer accepts and the app could have made.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from collections import Counter, defaultdict

import pytest

from capo_worker.league.checks import league_warnings
from capo_worker.league.demo import SIZES, generate_league, today_utc
from capo_worker.league.model import League, app_outcome, dump_league, parse_league

AS_OF = dt.date(2026, 11, 28)


@pytest.fixture(scope="module")
def small() -> League:
    return generate_league("small", seed=1, as_of=AS_OF)


@pytest.fixture(scope="module")
def capo() -> League:
    return generate_league("capo", seed=1, as_of=AS_OF)


def test_same_seed_same_league() -> None:
    first = dump_league(generate_league("small", seed=7, as_of=AS_OF))
    assert dump_league(generate_league("small", seed=7, as_of=AS_OF)) == first
    assert dump_league(generate_league("small", seed=8, as_of=AS_OF)) != first
    assert dump_league(generate_league("small", seed=7, as_of=AS_OF.replace(day=1))) != first


def test_default_arguments_end_today() -> None:
    league = generate_league()
    assert league.as_of == today_utc()
    assert league.meta["size"] == "small" and league.meta["seed"] == 1
    latest = max(m.match_date for m in league.matches)
    assert today_utc() - dt.timedelta(days=14) <= latest <= today_utc()


def test_unknown_size_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown demo size 'huge'; use one of tiny, small"):
        generate_league("huge")


@pytest.mark.parametrize("size", ["tiny", "small", "capo"])
def test_passes_the_importers_validation(size: str) -> None:
    league = generate_league(size, seed=2, as_of=AS_OF)
    again = parse_league(json.loads(dump_league(league)))
    assert again == league
    assert league_warnings(again) == []


# size -> (players, matches) ranges the docs promise ("about" figures, every seed)
SCALE = {
    "tiny": ((12, 22), (8, 11)),
    "small": ((28, 50), (33, 41)),
    "capo": ((120, 190), (450, 520)),
    "large": ((1000, 1500), (4600, 5100)),
}


@pytest.mark.parametrize("size", list(SCALE))
def test_sizes_have_the_expected_scale(size: str) -> None:
    (p_low, p_high), (m_low, m_high) = SCALE[size]
    for seed in (1, 2) if size != "large" else (1,):
        league = generate_league(size, seed=seed, as_of=AS_OF)
        assert p_low <= len(league.players) <= p_high, (size, seed, len(league.players))
        assert m_low <= len(league.matches) <= m_high, (size, seed, len(league.matches))
        years = {m.match_date.year for m in league.matches}
        if SIZES[size].seasons:
            assert years == set(range(AS_OF.year - SIZES[size].seasons + 1, AS_OF.year + 1))
        assert league.meta["counts"]["player_matches"] == len(league.player_matches)


def check_invariants(league: League) -> None:
    assert league.as_of is not None
    by_match = {m.match_id: m for m in league.matches}
    goals: dict[tuple[int, str], int] = defaultdict(int)
    sides: Counter[tuple[int, str]] = Counter()
    dates_played: set[tuple[int, dt.date]] = set()
    first_game: dict[int, dt.date] = {}
    for pm in league.player_matches:
        match = by_match[pm.match_id]
        goals[(pm.match_id, pm.team)] += pm.goals or 0
        sides[(pm.match_id, pm.team)] += 1
        # Derived fields by the app's rules.
        assert (pm.result, pm.heavy_win, pm.heavy_loss, pm.clean_sheet) == app_outcome(
            pm.team, match
        )
        assert pm.fantasy_points is None
        # Nobody plays twice on one date (the reference orders games by date alone).
        assert (pm.player_id, match.match_date) not in dates_played
        dates_played.add((pm.player_id, match.match_date))
        first_game[pm.player_id] = min(
            first_game.get(pm.player_id, match.match_date), match.match_date
        )
    for m in league.matches:
        # Scores are the players' goals plus the own goals they were given.
        assert m.team_a_score == goals[(m.match_id, "A")] + (m.team_a_own_goals or 0)
        assert m.team_b_score == goals[(m.match_id, "B")] + (m.team_b_own_goals or 0)
        assert 5 <= sides[(m.match_id, "A")] <= 9 and 5 <= sides[(m.match_id, "B")] <= 9
        assert abs(sides[(m.match_id, "A")] - sides[(m.match_id, "B")]) <= 1
        assert m.match_date <= league.as_of
        assert (m.match_date.month, m.match_date.day) not in ((1, 1), (7, 1))
    # Ids dense from 1; the latest match has the highest id.
    assert [p.player_id for p in league.players] == list(range(1, len(league.players) + 1))
    assert sorted(by_match) == list(range(1, len(league.matches) + 1))
    pm_ids = [pm.player_match_id for pm in league.player_matches]
    assert pm_ids == list(range(1, len(pm_ids) + 1))
    if league.matches:
        latest = max(league.matches, key=lambda m: (m.match_date, m.match_id))
        assert latest.match_id == len(league.matches)
    names = [p.name for p in league.players]
    assert len(set(names)) == len(names)
    assert all(re.fullmatch(r"[A-Z][a-z]*[0-9]*", n) and len(n) <= 14 for n in names)
    for p in league.players:
        assert p.join_date is not None
        if p.player_id in first_game:
            assert p.join_date <= first_game[p.player_id]


def test_invariants_small(small: League) -> None:
    check_invariants(small)


def test_invariants_capo(capo: League) -> None:
    check_invariants(capo)


@pytest.mark.parametrize("seed", range(3, 9))
def test_invariants_tiny(seed: int) -> None:
    check_invariants(generate_league("tiny", seed=seed, as_of=dt.date(2027, 1, 5)))


def test_small_is_a_thursday_league_of_one_season(small: League) -> None:
    assert {m.match_date.weekday() for m in small.matches} == {3}
    dates = sorted(m.match_date for m in small.matches)
    assert dates[-1] == dt.date(2026, 11, 26)  # the last Thursday on or before the as-of date
    assert all(b - a >= dt.timedelta(days=7) for a, b in itertools.pairwise(dates))


def test_realistic_mix(capo: League) -> None:
    """Every situation the stats have a rule for happens in a capo-sized league."""
    matches = capo.matches
    played = {pm.player_id for pm in capo.player_matches}
    first_date = min(m.match_date for m in matches)
    margins = [abs(m.team_a_score - m.team_b_score) for m in matches]
    side_sizes = Counter(
        n for n in Counter((pm.match_id, pm.team) for pm in capo.player_matches).values()
    )
    assert sum(p.is_ringer for p in capo.players) >= 5
    assert sum(bool(p.is_retired) for p in capo.players) >= 20
    assert sum(p.join_date is not None and p.join_date > first_date for p in capo.players) >= 50
    assert len(capo.players) - len(played) >= 3  # signed up, never played
    assert 0.08 <= margins.count(0) / len(matches) <= 0.25  # draws
    assert 0.10 <= sum(d >= 4 for d in margins) / len(matches) <= 0.40  # heavy wins
    assert sum(m.team_a_score == 0 or m.team_b_score == 0 for m in matches) >= 20
    assert sum((m.team_a_own_goals or 0) + (m.team_b_own_goals or 0) > 0 for m in matches) >= 40
    assert set(side_sizes) == {5, 6, 7, 8, 9}
    ids_in_date_order = [m.match_id for m in sorted(matches, key=lambda m: m.match_date)]
    assert ids_in_date_order != sorted(ids_in_date_order)  # a few matches were entered late
    ratings = Counter(p.goalscoring for p in capo.players)
    assert set(ratings) == {1, 2, 3, 4, 5}
    assert any(p.selected_club for p in capo.players)
    goals = Counter(pm.goals for pm in capo.player_matches)
    assert goals[0] > goals[1] > goals[3] > 0  # most players score nothing in a game
