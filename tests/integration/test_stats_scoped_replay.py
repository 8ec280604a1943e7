"""Post-match jobs scoped to their match write exactly what full runs write.

Each public league is replayed over its last matches on two databases: after
every saved, edited or deleted match, one database gets a post-match job (the
worker's handler, which scopes what it can) and the other a full run, on the
same day; the 13 output tables must be equal after every step. The small
league's replay also ends equal to the reference's own replay
(tests/fixtures/replay/small_k23, see its README).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from capo_worker.league.model import League, load_league_file
from capo_worker.results import JobResults
from capo_worker.stats.requests import StatsRequest
from capo_worker.stats.scope import SCOPED_RULES
from tests.support.db import fresh_test_database, query
from tests.support.golden import compare_folder, report
from tests.support.leagues import PUBLIC_LEAGUES, league_path, load_league
from tests.support.replay import SavedMatch, execute_all, save_match, split_league, stats_job
from tests.support.statsdb import dump_outputs, failures, run_graph
from tests.support.web import break_function

REPLAY_GOLDEN = Path(__file__).parent.parent / "fixtures" / "replay" / "small_k23"
NIGHTLY = dt.date(2026, 11, 28)


@pytest.fixture
def twin_db_url(server_url: str, template_db: str) -> Iterator[str]:
    """A second fresh migrated database: the full runs' side of a replay."""
    with fresh_test_database(server_url, template_db) as url:
        yield url


class Replay:
    """Two databases with the same league: post-match jobs on one, full runs on the other."""

    def __init__(self, scoped_url: str, full_url: str, league: League) -> None:
        self.scoped_url, self.full_url = scoped_url, full_url
        for url in (scoped_url, full_url):
            load_league(url, league)
        self.scopes: list[JobResults] = []

    def change(self, statements: list[tuple[str, tuple[object, ...]]]) -> None:
        for url in (self.scoped_url, self.full_url):
            execute_all(url, statements)

    def save(self, saved: SavedMatch) -> None:
        for url in (self.scoped_url, self.full_url):
            save_match(url, saved)

    def step(self, day: dt.date, trigger: str = "post-match", match_id: int | None = None) -> None:
        """The job on one side, a full run on the other; then every table compared."""
        results = stats_job(self.scoped_url, day, trigger, match_id)  # type: ignore[arg-type]
        self.scopes.append(results)
        # A function told to scope may still find it cannot (its details say so).
        assert not [
            f.function
            for f in results.function_results
            if f.scope != "full" and "scope" in (f.details or {})
        ]
        full = run_graph(self.full_url, as_of=day)
        assert failures(full) == {}
        scoped_tables, full_tables = dump_outputs(self.scoped_url), dump_outputs(self.full_url)
        different = [t for t in full_tables if scoped_tables[t] != full_tables[t]]
        assert not different, (
            f"{trigger} job for match {match_id} on {day} ({_scopes(results)}) differs "
            f"from a full run in {different}"
        )

    def scoped_functions(self) -> set[str]:
        return {
            f.function
            for r in self.scopes
            for f in r.function_results
            if f.scope and f.scope != "full"
        }


def _scopes(results: JobResults) -> str:
    return "; ".join(f"{f.function}: {f.scope}" for f in results.function_results)


def _latest(url: str) -> tuple[int, dt.date]:
    row = query(
        url,
        "SELECT match_id, match_date FROM matches ORDER BY match_date DESC, match_id DESC LIMIT 1",
    )[0]
    return int(row[0]), row[1]


def _players_not_in(url: str, match_id: int) -> list[int]:
    rows = query(
        url,
        """SELECT player_id FROM players WHERE NOT is_ringer AND player_id NOT IN
             (SELECT player_id FROM player_matches WHERE match_id = %s) ORDER BY player_id""",
        match_id,
    )
    return [int(r[0]) for r in rows]


def _next_half_start(day: dt.date) -> dt.date:
    return dt.date(day.year, 7, 1) if day.month <= 6 else dt.date(day.year + 1, 1, 1)


REPLAYED = {"tiny": 3, "small": 5, "spring": 5, "small_config": 5, "capo": 5}


@pytest.mark.parametrize("name", PUBLIC_LEAGUES)
def test_post_match_jobs_equal_full_runs(db_url: str, twin_db_url: str, name: str) -> None:
    league = load_league_file(league_path(name))
    base, saved = split_league(league, REPLAYED[name])
    replay = Replay(db_url, twin_db_url, base)
    rng = random.Random(name)
    start = max(m.match_date for m in base.matches)
    replay.step(start, "admin")  # the first job of a tenant runs in full

    # Matches saved one by one, each on its own day (the day moves between steps).
    for match in saved:
        replay.save(match)
        replay.step(match.match.match_date, match_id=match.match.match_id)
    latest_id, latest_day = _latest(db_url)

    # The latest match saved again with a changed score and a player swapped for another.
    dropped = rng.choice([r.player_id for r in saved[-1].rows])
    added = rng.choice(_players_not_in(db_url, latest_id))
    replay.change(
        [
            (
                "UPDATE matches SET team_a_score = team_a_score + 1 WHERE match_id = %s",
                (latest_id,),
            ),
            (
                "UPDATE player_matches SET player_id = %s, goals = goals + 1"
                " WHERE match_id = %s AND player_id = %s",
                (added, latest_id, dropped),
            ),
        ]
    )
    replay.step(latest_day + dt.timedelta(days=1), match_id=latest_id)

    # An old match edited late (goals and a result), seen a week later.
    old = rng.choice(base.matches[len(base.matches) // 2 :])
    replay.change(
        [
            (
                "UPDATE player_matches SET goals = COALESCE(goals, 0) + 2, result = 'win'"
                " WHERE player_match_id = (SELECT min(player_match_id) FROM player_matches"
                " WHERE match_id = %s)",
                (old.match_id,),
            )
        ]
    )
    replay.step(latest_day + dt.timedelta(days=8), match_id=old.match_id)

    # Rows no app writes: a player of the latest match gets a second row, on the other
    # team, in an older match of theirs (a job for that match), then the latest match's
    # job reads that history in its scoped teammate counts.
    player = saved[-1].rows[0].player_id
    older = query(
        db_url,
        "SELECT max(match_id) FROM player_matches WHERE player_id = %s AND match_id <> %s",
        player,
        latest_id,
    )[0][0]
    if older is not None:
        replay.change(
            [
                (
                    "INSERT INTO player_matches (player_match_id, player_id, match_id, team, goals,"
                    " result) SELECT 990001, player_id, match_id,"
                    " CASE WHEN team = 'A' THEN 'B' ELSE 'A' END, 1, 'win'"
                    " FROM player_matches WHERE player_id = %s AND match_id = %s LIMIT 1",
                    (player, older),
                )
            ]
        )
        replay.step(latest_day + dt.timedelta(days=8), match_id=older)
        replay.step(latest_day + dt.timedelta(days=8), match_id=latest_id)

    # An old match entered late: a copy of the latest match's rows, dated a month back.
    late = SavedMatch(
        saved[-2].match.model_copy(
            update={"match_id": 90001, "match_date": latest_day - dt.timedelta(days=30)}
        ),
        tuple(
            r.model_copy(update={"player_match_id": 900000 + i, "match_id": 90001})
            for i, r in enumerate(saved[-2].rows)
        ),
    )
    replay.save(late)
    replay.step(latest_day + dt.timedelta(days=9), match_id=90001)

    # The same day (power ratings keep their weights, so they are scoped too): another
    # old match entered late, then edited (a player swapped, goals), then deleted.
    same_day = latest_day + dt.timedelta(days=9)
    second = SavedMatch(
        saved[0].match.model_copy(
            update={"match_id": 90002, "match_date": latest_day - dt.timedelta(days=60)}
        ),
        tuple(
            r.model_copy(update={"player_match_id": 900100 + i, "match_id": 90002})
            for i, r in enumerate(saved[0].rows)
        ),
    )
    replay.save(second)
    replay.step(same_day, match_id=90002)
    swapped = rng.choice([r.player_id for r in second.rows])
    replay.change(
        [
            (
                "UPDATE player_matches SET player_id = %s, goals = COALESCE(goals, 0) + 1"
                " WHERE match_id = 90002 AND player_id = %s",
                (rng.choice(_players_not_in(db_url, 90002)), swapped),
            )
        ]
    )
    replay.step(same_day, match_id=90002)
    replay.change(
        [
            ("DELETE FROM player_matches WHERE match_id = 90002", ()),
            ("DELETE FROM matches WHERE match_id = 90002", ()),
        ]
    )
    replay.step(same_day, match_id=90002)

    # The latest match deleted, then an old one, seen in the next half-season.
    next_half = _next_half_start(latest_day)
    for days, match_id in enumerate((latest_id, old.match_id)):
        replay.change(
            [
                ("DELETE FROM player_matches WHERE match_id = %s", (match_id,)),
                ("DELETE FROM matches WHERE match_id = %s", (match_id,)),
            ]
        )
        replay.step(next_half + dt.timedelta(days=days), match_id=match_id)

    # The nightly run, across the new year: a cron job is a full run.
    replay.step(dt.date(latest_day.year + 1, 1, 2), "cron")

    assert replay.scopes[1].stats_scope == f"match {saved[0].match.match_id}"
    assert set(SCOPED_RULES) <= replay.scoped_functions()
    assert all(f.scope == "full" for f in replay.scopes[-1].function_results)
    # The scoped match reports reused the previous report's streaks (the SQL's
    # fallback, every player, is for a previous report without them).
    reports = [
        f.details or {}
        for r in replay.scopes
        for f in r.function_results
        if f.function == "update_aggregated_match_report_cache" and f.scope != "full"
    ]
    assert reports and all(
        "kept from the previous report" in str(d.get("streaks")) for d in reports
    )


@pytest.mark.slow
@pytest.mark.parametrize("name", PUBLIC_LEAGUES)
def test_long_replays_with_random_edits_equal_full_runs(
    db_url: str, twin_db_url: str, name: str
) -> None:
    """Fifteen matches saved one by one; after every third a random past match is edited
    (goals, a result, a player swapped), after every fifth a random match is deleted."""
    league = load_league_file(league_path(name))
    base, saved = split_league(league, min(15, len(league.matches) - 2))
    replay = Replay(db_url, twin_db_url, base)
    rng = random.Random(f"long {name}")
    replay.step(max(m.match_date for m in base.matches), "admin")
    for i, match in enumerate(saved, 1):
        replay.save(match)
        day = match.match.match_date
        replay.step(day, match_id=match.match.match_id)
        ids = [int(r[0]) for r in query(db_url, "SELECT match_id FROM matches ORDER BY 1")]
        if i % 3 == 0:
            target = rng.choice(ids)
            others = _players_not_in(db_url, target)
            row = query(
                db_url,
                "SELECT min(player_match_id) FROM player_matches WHERE match_id = %s",
                target,
            )[0][0]
            edit = rng.choice(["goals", "result", "swap"])
            if edit == "goals" or row is None or not others:
                statement = "UPDATE player_matches SET goals = COALESCE(goals, 0) + 1"
                params: tuple[object, ...] = (row,)
            elif edit == "result":
                statement = "UPDATE player_matches SET result = 'loss', heavy_loss = true"
                params = (row,)
            else:
                statement = "UPDATE player_matches SET player_id = %s"
                params = (rng.choice(others), row)
            replay.change([(statement + " WHERE player_match_id = %s", params)])
            replay.step(day, match_id=target)
        if i % 5 == 0:
            target = rng.choice(ids)
            replay.change(
                [
                    ("DELETE FROM player_matches WHERE match_id = %s", (target,)),
                    ("DELETE FROM matches WHERE match_id = %s", (target,)),
                ]
            )
            replay.step(day + dt.timedelta(days=1), match_id=target)
    assert set(SCOPED_RULES) <= replay.scoped_functions()


def test_small_replay_equals_the_references(db_url: str) -> None:
    """The reference's replay (README of tests/fixtures/replay): 23 post-match jobs, the
    half-season crossed at step 3, then the nightly run."""
    league = load_league_file(league_path("small"))
    base, saved = split_league(league, 23)
    load_league(db_url, base)
    first = stats_job(db_url, dt.date(2026, 6, 4), "admin")
    assert first.stats_scope == "full"
    scoped = set()
    for match in saved:
        save_match(db_url, match)
        results = stats_job(db_url, match.match.match_date, "post-match", match.match.match_id)
        scoped |= {f.function for f in results.function_results if f.scope != "full"}
    stats_job(db_url, NIGHTLY, "cron")
    # Every job is on a later day than the one before: the power ratings' weights decay.
    assert scoped == set(SCOPED_RULES) - {"update_power_ratings"}
    with psycopg.connect(db_url) as conn:
        diffs = compare_folder(conn, REPLAY_GOLDEN)
    assert all(d.ok for d in diffs), report(diffs)


def test_a_post_match_job_that_absorbed_an_admin_request_runs_in_full(db_url: str) -> None:
    league = load_league_file(league_path("tiny"))
    base, saved = split_league(league, 1)
    load_league(db_url, base)
    stats_job(db_url, max(m.match_date for m in base.matches), "admin")
    save_match(db_url, saved[0])
    day, match_id = saved[0].match.match_date, saved[0].match.match_id
    joined = stats_job(
        db_url, day, "post-match", match_id, also=[StatsRequest.new("admin", user_id="u1")]
    )
    assert joined.stats_scope == "full"
    assert "other requests" in (joined.stats_scope_reason or "")
    assert {f.scope for f in joined.function_results} == {"full"}
    # The same match alone is scoped.
    alone = stats_job(db_url, day, "post-match", match_id)
    assert alone.stats_scope == f"match {match_id}"
    players = len({r.player_id for r in saved[0].rows})
    scoped = {f.function: f.scope for f in alone.function_results}
    assert scoped["update_aggregated_all_time_stats"] == f"match {match_id}, {players} players"
    # On the day of the last (full) run, power ratings are scoped too.
    assert scoped["update_power_ratings"] == f"match {match_id}, {players} players"


def test_after_a_failed_function_the_next_post_match_job_runs_in_full(db_url: str) -> None:
    league = load_league_file(league_path("tiny"))
    base, saved = split_league(league, 2)
    load_league(db_url, base)
    stats_job(db_url, max(m.match_date for m in base.matches), "admin")
    first, second = saved
    save_match(db_url, first)
    break_function(db_url, "update_power_ratings", "broken for the test")
    failed = stats_job(
        db_url, first.match.match_date, "post-match", first.match.match_id, expect_ok=False
    )
    assert failed.stats_scope == f"match {first.match.match_id}"
    save_match(db_url, second)
    after = stats_job(
        db_url, second.match.match_date, "post-match", second.match.match_id, expect_ok=False
    )
    assert after.stats_scope == "full"
    assert after.stats_scope_reason == "no complete run recorded yet for this tenant"
