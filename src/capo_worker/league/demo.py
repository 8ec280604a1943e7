"""A realistic demo league, the same for the same size, seed and as-of date.

The generator plays the league week by week up to the as-of date: a squad of
regulars who turn up when they feel like it, ringers called in when too few
came, players who retire and new ones who join, teams split by skill, goals
drawn from the teams' strengths (so heavy wins, draws, clean sheets and own
goals happen as often as they do in a five-a-side league), and the derived
player_matches fields set by the app's rules. Scores always equal the
players' goals plus the own goals.

Sizes (history up to the as-of date):

| size  | history            | match days | players (about) | matches (about) |
|-------|--------------------|------------|-----------------|-----------------|
| tiny  | 10 weeks           | Thursday   | 16              | 10              |
| small | 40 weeks           | Thursday   | 35              | 37              |
| capo  | 10 calendar years  | Thursday   | 150             | 485             |
| large | 20 calendar years  | Mon-Fri    | 1,250           | 4,850           |
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass, field
from typing import Any

from capo_worker.league.demo_data import CLUBS, FIRST_NAMES, club_object
from capo_worker.league.model import (
    FORMAT,
    League,
    MatchRow,
    PlayerMatchRow,
    PlayerRow,
    app_outcome,
)


@dataclass(frozen=True)
class DemoSize:
    """How big a demo league is and how it behaves."""

    name: str
    weeks: int = 0  # weeks of history ending at the as-of date (when seasons is 0)
    seasons: int = 0  # calendar years of history, the as-of year included
    match_days: tuple[int, ...] = (3,)  # weekdays, Monday = 0
    squad: int = 24  # regulars active at any time
    turnover: float = 0.15  # share of the squad that leaves per year
    side: tuple[int, int] = (5, 9)  # players a side, smallest and largest
    never_played: int = 1  # sign-ups in the last weeks who have not played yet
    cancel_rate: float = 0.04  # share of match days without a match


SIZES: dict[str, DemoSize] = {
    "tiny": DemoSize("tiny", weeks=10, squad=12, turnover=0.3, side=(5, 6), never_played=1),
    "small": DemoSize("small", weeks=40, squad=26, turnover=0.2, side=(5, 9), never_played=2),
    "capo": DemoSize("capo", seasons=10, squad=34, turnover=0.25, side=(5, 9), never_played=3),
    "large": DemoSize(
        "large",
        seasons=20,
        match_days=(0, 1, 2, 3, 4),
        squad=150,
        turnover=0.3,
        side=(5, 9),
        never_played=40,
    ),
}

RETIRED_SHARE = 0.75  # players who stop coming and are marked retired (the rest just drift off)
OWN_GOAL_SHARE = 0.05  # goals that are own goals
ENTERED_LATE_SHARE = 0.02  # matches whose id comes after the next match's
UNEVEN_SHARE = 0.06  # matches played one a side short
RINGER_REUSE = 0.93  # a ringer called in is one who came before (else a new one)
SIDE_WEIGHTS = {5: 2, 6: 4, 7: 4, 8: 3, 9: 1}  # how often each side size is played


def _is_break(day: dt.date) -> bool:
    """No football over Christmas and New Year, nor on 1 July (a season-race boundary)."""
    return (day.month == 12 and day.day >= 24) or (day.month, day.day) in ((1, 1), (7, 1))


def _start(size: DemoSize, as_of: dt.date) -> dt.date:
    if size.seasons:
        return dt.date(as_of.year - size.seasons + 1, 1, 1)
    return as_of - dt.timedelta(weeks=size.weeks) + dt.timedelta(days=1)


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth's method; the means here are small)."""
    limit = math.exp(-mean)
    k, p = 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _rating(rng: random.Random, skill: float, weight: float) -> int:
    return max(1, min(5, round(3 + weight * skill + rng.gauss(0, 0.8))))


@dataclass
class _Player:
    player_id: int
    name: str
    join_date: dt.date
    is_ringer: bool
    skill: float  # hidden ability, mean 0
    keenness: float  # how often they turn up, relative to the others
    ratings: tuple[int, int, int, int, int, int]
    club: int | None
    left: bool = False
    retired: bool = False

    @property
    def scoring_weight(self) -> float:
        return float(self.ratings[0] ** 2) * (1.2 if self.skill > 0.5 else 1.0)


@dataclass
class _Match:
    date: dt.date
    team_a: list[_Player]
    team_b: list[_Player]
    goals: dict[int, int] = field(default_factory=dict)  # player_id -> goals
    score: tuple[int, int] = (0, 0)
    own_goals: tuple[int, int] = (0, 0)


class _Simulation:
    def __init__(self, size: DemoSize, seed: int, as_of: dt.date) -> None:
        self.size = size
        self.as_of = as_of
        self.rng = random.Random(f"capo-demo/{size.name}/{seed}")
        self.players: list[_Player] = []
        self.regulars: list[_Player] = []  # active, not ringers
        self.ringers: list[_Player] = []
        self.matches: list[_Match] = []
        self._names: dict[str, int] = {}
        self.matches_per_year = 52 * len(size.match_days) * (1 - size.cancel_rate)

    # --- people ---------------------------------------------------------------------

    def _name(self) -> str:
        base = self.rng.choice(FIRST_NAMES)
        used = self._names.get(base, 0)
        self._names[base] = used + 1
        return base if used == 0 else f"{base}{used + 1}"

    def _new_player(self, join_date: dt.date, *, ringer: bool) -> _Player:
        rng = self.rng
        skill = rng.gauss(0, 1)
        ratings = (
            _rating(rng, skill, 0.9),  # goalscoring
            _rating(rng, skill, 0.6),  # defender
            _rating(rng, skill, 0.5),  # stamina_pace
            _rating(rng, skill, 0.7),  # control
            _rating(rng, skill, 0.4),  # teamwork
            _rating(rng, skill, 0.3),  # resilience
        )
        player = _Player(
            player_id=len(self.players) + 1,
            name=self._name(),
            join_date=join_date,
            is_ringer=ringer,
            skill=skill - (0.3 if ringer else 0.0),
            keenness=rng.uniform(0.35, 1.0),
            ratings=ratings,
            club=rng.randrange(len(CLUBS)) if rng.random() < 0.3 else None,
        )
        self.players.append(player)
        (self.ringers if ringer else self.regulars).append(player)
        return player

    def _turnover(self, day: dt.date) -> None:
        hazard = self.size.turnover / self.matches_per_year
        for p in self.regulars:
            if self.rng.random() < hazard:
                p.left = True
                p.retired = self.rng.random() < RETIRED_SHARE
        self.regulars = [p for p in self.regulars if not p.left]
        while len(self.regulars) < self.size.squad:
            joined = day - dt.timedelta(days=self.rng.randrange(0, 7))
            self._new_player(joined, ringer=False)

    def _ringer(self, day: dt.date, taken: list[_Player]) -> _Player:
        pool = [p for p in self.ringers if p not in taken]
        if pool and self.rng.random() < RINGER_REUSE:
            return self.rng.choice(pool)
        return self._new_player(day, ringer=True)

    # --- a match day ----------------------------------------------------------------

    def _roster(self, day: dt.date) -> tuple[list[_Player], int]:
        low, high = self.size.side
        sizes = range(low, high + 1)
        per_side = self.rng.choices(sizes, [SIDE_WEIGHTS.get(n, 1) for n in sizes])[0]
        wanted = 2 * per_side - (1 if per_side > low and self.rng.random() < UNEVEN_SHARE else 0)
        regulars = self.regulars
        scale = 1.15 * wanted / sum(p.keenness for p in regulars)
        came = [p for p in regulars if self.rng.random() < min(0.97, p.keenness * scale)]
        if len(came) > wanted:
            came = self.rng.sample(came, wanted)
        while len(came) < wanted:
            came.append(self._ringer(day, came))
        return came, wanted

    def _teams(self, came: list[_Player]) -> tuple[list[_Player], list[_Player]]:
        ranked = sorted(came, key=lambda p: p.skill + self.rng.gauss(0, 0.6), reverse=True)
        a: list[_Player] = []
        b: list[_Player] = []
        for i, p in enumerate(ranked):  # snake draft: A B B A A B B A ...
            (a if i % 4 in (0, 3) else b).append(p)
        return (a, b) if self.rng.random() < 0.5 else (b, a)

    def _goals(self, match: _Match) -> None:
        rng = self.rng

        def strength(team: list[_Player]) -> float:
            return sum(p.skill for p in team) / len(team) + 0.25 * len(team)

        edge = strength(match.team_a) - strength(match.team_b)
        pace = rng.uniform(1.6, 5.2)
        mean_a, mean_b = pace * math.exp(0.7 * edge), pace * math.exp(-0.7 * edge)
        if rng.random() < 0.07:  # one side has a bad day
            if mean_a < mean_b:
                mean_a *= 0.4
            else:
                mean_b *= 0.4
        scored = (min(_poisson(rng, min(mean_a, 12)), 16), min(_poisson(rng, min(mean_b, 12)), 16))
        own = [0, 0]
        for side, (team, goals) in enumerate(
            zip((match.team_a, match.team_b), scored, strict=True)
        ):
            weights = [p.scoring_weight for p in team]
            for _ in range(goals):
                if rng.random() < OWN_GOAL_SHARE:
                    own[side] += 1  # put in by the other side: no player of ours credited
                else:
                    scorer = rng.choices(team, weights)[0]
                    match.goals[scorer.player_id] = match.goals.get(scorer.player_id, 0) + 1
        match.score = scored
        match.own_goals = (own[0], own[1])

    def play(self) -> None:
        start = _start(self.size, self.as_of)
        for _ in range(self.size.squad):
            self._new_player(start - dt.timedelta(days=self.rng.randrange(1, 45)), ringer=False)
        day = start
        while day <= self.as_of:
            if (
                day.weekday() in self.size.match_days
                and not _is_break(day)
                and self.rng.random() >= self.size.cancel_rate
            ):
                self._turnover(day)
                came, _ = self._roster(day)
                team_a, team_b = self._teams(came)
                match = _Match(day, team_a, team_b)
                self._goals(match)
                self.matches.append(match)
            day += dt.timedelta(days=1)
        for _ in range(self.size.never_played):
            joined = self.as_of - dt.timedelta(days=self.rng.randrange(0, 21))
            self._new_player(max(joined, start), ringer=False)


# --- rows ----------------------------------------------------------------------------------


def _match_order(rng: random.Random, count: int) -> list[int]:
    """Match ids by date order, except a few entered late; the latest keeps the highest id."""
    order = list(range(count))
    i = 0
    while i < count - 2:
        if rng.random() < ENTERED_LATE_SHARE:
            order[i], order[i + 1] = order[i + 1], order[i]
            i += 2
        else:
            i += 1
    return order


def _player_row(p: _Player) -> PlayerRow:
    g, d, s, c, t, r = p.ratings
    return PlayerRow(
        player_id=p.player_id,
        name=p.name,
        join_date=p.join_date,
        is_ringer=p.is_ringer,
        is_retired=p.retired,
        goalscoring=g,
        defender=d,
        stamina_pace=s,
        control=c,
        teamwork=t,
        resilience=r,
        selected_club=club_object(p.club) if p.club is not None else None,
    )


def _rows(sim: _Simulation) -> tuple[list[MatchRow], list[PlayerMatchRow]]:
    order = _match_order(sim.rng, len(sim.matches))
    by_id: list[tuple[MatchRow, _Match]] = []
    for position, index in enumerate(order):
        played = sim.matches[index]
        row = MatchRow(
            match_id=position + 1,
            match_date=played.date,
            team_a_score=played.score[0],
            team_b_score=played.score[1],
            team_a_own_goals=played.own_goals[0],
            team_b_own_goals=played.own_goals[1],
            upcoming_match_id=None,
        )
        by_id.append((row, played))
    player_matches: list[PlayerMatchRow] = []
    for row, played in by_id:  # rows are saved match by match, in id order
        for team, members in (("A", played.team_a), ("B", played.team_b)):
            result, heavy_win, heavy_loss, clean_sheet = app_outcome(team, row)
            for p in members:
                player_matches.append(
                    PlayerMatchRow(
                        player_match_id=len(player_matches) + 1,
                        player_id=p.player_id,
                        match_id=row.match_id,
                        team=team,  # type: ignore[arg-type]
                        goals=played.goals.get(p.player_id, 0),
                        result=result,
                        heavy_win=heavy_win,
                        heavy_loss=heavy_loss,
                        clean_sheet=clean_sheet,
                        fantasy_points=None,
                    )
                )
    return [row for row, _ in by_id], player_matches


def today_utc() -> dt.date:
    """Today as the database sees it (the stats run in UTC)."""
    return dt.datetime.now(dt.UTC).date()


def generate_league(
    size: str | DemoSize = "small", seed: int = 1, as_of: dt.date | None = None
) -> League:
    """A demo league of `size` (tiny, small, capo, large) ending on `as_of` (default today)."""
    if isinstance(size, str):
        if size not in SIZES:
            raise ValueError(f"unknown demo size {size!r}; use one of {', '.join(SIZES)}")
        spec = SIZES[size]
    else:
        spec = size
    as_of = as_of or today_utc()
    sim = _Simulation(spec, seed, as_of)
    sim.play()
    matches, player_matches = _rows(sim)
    players = [_player_row(p) for p in sim.players]
    meta: dict[str, Any] = {
        "format": FORMAT,
        "generator": "capo-worker league demo",
        "size": spec.name,
        "seed": seed,
        "counts": {
            "players": len(players),
            "matches": len(matches),
            "player_matches": len(player_matches),
        },
    }
    return League(
        as_of=as_of,
        meta=meta,
        app_config={},
        players=players,
        matches=matches,
        player_matches=player_matches,
    )
