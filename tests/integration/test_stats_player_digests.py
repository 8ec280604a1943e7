"""Full runs of recent performance and season stats recompute only the players whose games changed.

Each function keeps, per player, a digest of the player's games (the columns
it reads) in capo_player_games_digests, with a header (settings, source,
windows) and a guard of its output rows (docs/stats.md, "Only changed
players"). After any change, a full run must give exactly the rows a run from
scratch gives, and compute only the players whose digest came, went or changed.
A run rewrites the digest rows of exactly the players it computed, with its
header row, so those players are the ones whose digest row has the header's
xmin (the summaries stay the same from run to run).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from capo_worker.constants import DEFAULT_TENANT_ID
from tests.support.leagues import load_fixture

RECENT = "update_aggregated_recent_performance"
SEASON = "update_half_and_full_season_stats"
AS_OF = "2026-11-28"  # the small league's day

# What each function's rows hold (every column but ids and last_updated).
ROWS = {
    RECENT: (
        "SELECT player_id, last_5_games, last_5_goals FROM aggregated_recent_performance"
        " WHERE tenant_id = %(t)s ORDER BY player_id",
    ),
    SEASON: (
        "SELECT player_id, games_played, wins, draws, losses, goals, heavy_wins, heavy_losses,"
        " clean_sheets, win_percentage, fantasy_points, points_per_game, historical_blocks"
        " FROM aggregated_half_season_stats WHERE tenant_id = %(t)s ORDER BY player_id",
        "SELECT player_id, season_start_date, season_end_date, games_played, wins, draws, losses,"
        " goals, heavy_wins, heavy_losses, clean_sheets, win_percentage, fantasy_points,"
        " points_per_game FROM aggregated_season_stats WHERE tenant_id = %(t)s"
        " ORDER BY season_start_date, player_id",
    ),
}

LATEST = (
    "(SELECT match_id FROM matches WHERE tenant_id = %(t)s"
    " ORDER BY match_date DESC, match_id DESC LIMIT 1)"
)
OLDEST = (
    "(SELECT match_id FROM matches WHERE tenant_id = %(t)s ORDER BY match_date, match_id LIMIT 1)"
)
ONE_GAME = f"(SELECT min(player_match_id) FROM player_matches WHERE match_id = {OLDEST})"
A_PLAYER = f"(SELECT min(player_id) FROM player_matches WHERE match_id = {LATEST})"

OUTPUT_TABLES = (
    "aggregated_recent_performance",
    "aggregated_half_season_stats",
    "aggregated_season_stats",
)

NOBODY = "SELECT player_id FROM players WHERE false"
EVERYONE = "SELECT player_id FROM players WHERE tenant_id = %(t)s AND NOT is_ringer"

# name -> (statements, the players whose games changed: a query)
CHANGES: dict[str, tuple[tuple[str, ...], str]] = {
    "a latest match": (
        (
            "INSERT INTO matches (tenant_id, match_date, team_a_score, team_b_score)"
            f" SELECT %(t)s, match_date + 1, 3, 0 FROM matches WHERE match_id = {LATEST}",
            "INSERT INTO player_matches (tenant_id, player_id, match_id, team, goals, result,"
            " heavy_win, heavy_loss, clean_sheet)"
            f" SELECT %(t)s, player_id, {LATEST}, team, 1,"
            " CASE team WHEN 'A' THEN 'win' ELSE 'loss' END, team = 'A', team <> 'A', team = 'A'"
            " FROM player_matches WHERE match_id = (SELECT match_id FROM matches"
            " WHERE tenant_id = %(t)s ORDER BY match_date DESC, match_id DESC OFFSET 1 LIMIT 1)",
        ),
        f"SELECT player_id FROM player_matches WHERE match_id = {LATEST}",
    ),
    "an old game's goals": (
        (
            "UPDATE player_matches SET goals = COALESCE(goals, 0) + 2"
            f" WHERE player_match_id = {ONE_GAME}",
        ),
        f"SELECT player_id FROM player_matches WHERE player_match_id = {ONE_GAME}",
    ),
    "an old game's result": (
        (
            "UPDATE player_matches SET result = CASE result WHEN 'win' THEN 'draw' ELSE 'win' END"
            f" WHERE player_match_id = {ONE_GAME}",
        ),
        f"SELECT player_id FROM player_matches WHERE player_match_id = {ONE_GAME}",
    ),
    "an old game's team": (
        (
            "UPDATE player_matches SET team = CASE team WHEN 'A' THEN 'B' ELSE 'A' END"
            f" WHERE player_match_id = {ONE_GAME}",
        ),
        f"SELECT player_id FROM player_matches WHERE player_match_id = {ONE_GAME}",
    ),
    "an old match's score": (
        (f"UPDATE matches SET team_a_score = team_a_score + 1 WHERE match_id = {OLDEST}",),
        f"SELECT player_id FROM player_matches WHERE match_id = {OLDEST}",
    ),
    "a match deleted": (
        (
            "CREATE TEMP TABLE gone AS SELECT player_id FROM player_matches"
            f" WHERE match_id = {LATEST}",
            f"DELETE FROM player_matches WHERE match_id = {LATEST}",
            f"DELETE FROM matches WHERE match_id = {LATEST}",
        ),
        "SELECT player_id FROM gone",
    ),
    "a match moved to the previous year": (
        (
            "CREATE TEMP TABLE touched AS SELECT player_id FROM player_matches"
            f" WHERE match_id = {LATEST}",
            f"UPDATE matches SET match_date = match_date - 366 WHERE match_id = {LATEST}",
        ),
        "SELECT player_id FROM touched",
    ),
    "a match moved into the other half": (
        (
            "CREATE TEMP TABLE touched AS SELECT player_id FROM player_matches"
            f" WHERE match_id = {LATEST}",
            f"UPDATE matches SET match_date = DATE '2026-03-15' WHERE match_id = {LATEST}",
        ),
        "SELECT player_id FROM touched",
    ),
    "a player renamed": (
        (f"UPDATE players SET name = 'Renamed' WHERE player_id = {A_PLAYER}",),
        NOBODY,
    ),
    "a player made a ringer": (
        (f"UPDATE players SET is_ringer = true WHERE player_id = {A_PLAYER}",),
        f"SELECT {A_PLAYER}",
    ),
}

# Where the season stats differ: they read neither the team nor the score, and
# a match moved into a year without matches adds a year to rebuild (everyone).
SEASON_CHANGED = {
    "an old game's team": NOBODY,
    "an old match's score": NOBODY,
    "a match moved to the previous year": EVERYONE,
}


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection[Any]]:
    load_fixture(db_url, "small")
    with psycopg.connect(db_url, autocommit=True) as connection:
        connection.execute("SELECT set_config('capo.as_of', %s, false)", (AS_OF,))
        yield connection


KINDS = {RECENT: "recent_performance", SEASON: "season_stats"}


def run(conn: psycopg.Connection[Any], function: str) -> set[int]:
    """Run `function` in full; the players it computed."""
    conn.execute(f"SELECT {function}(%s::uuid)", (DEFAULT_TENANT_ID,))
    return {
        r[0]
        for r in conn.execute(
            "SELECT d.player_id FROM capo_player_games_digests d"
            " JOIN capo_player_games_digests h ON h.tenant_id = d.tenant_id"
            " AND h.kind = d.kind AND h.player_id = 0 AND h.xmin = d.xmin"
            " WHERE d.tenant_id = %s AND d.kind = %s AND d.player_id <> 0",
            (DEFAULT_TENANT_ID, KINDS[function]),
        ).fetchall()
    }


def rows(conn: psycopg.Connection[Any], function: str) -> list[list[tuple[Any, ...]]]:
    return [conn.execute(q, {"t": DEFAULT_TENANT_ID}).fetchall() for q in ROWS[function]]


def execute(conn: psycopg.Connection[Any], statements: tuple[str, ...]) -> None:
    for statement in statements:
        conn.execute(statement, {"t": DEFAULT_TENANT_ID})


def forget_state(conn: psycopg.Connection[Any]) -> None:
    conn.execute("DELETE FROM capo_player_games_digests WHERE tenant_id = %s", (DEFAULT_TENANT_ID,))


def from_scratch(conn: psycopg.Connection[Any], function: str) -> list[list[tuple[Any, ...]]]:
    """The rows a run without any stored state gives (the output rows deleted too)."""
    forget_state(conn)
    for table in OUTPUT_TABLES:
        conn.execute(f"DELETE FROM {table} WHERE tenant_id = %s", (DEFAULT_TENANT_ID,))
    result = run(conn, function)
    assert result == non_ringers(conn)
    return rows(conn, function)


def non_ringers(conn: psycopg.Connection[Any]) -> set[int]:
    return {
        r[0]
        for r in conn.execute(
            "SELECT player_id FROM players WHERE tenant_id = %s AND NOT is_ringer",
            (DEFAULT_TENANT_ID,),
        ).fetchall()
    }


@pytest.mark.parametrize("function", [RECENT, SEASON])
@pytest.mark.parametrize("change", list(CHANGES))
def test_a_full_run_after_a_change_computes_only_the_changed_players(
    conn: psycopg.Connection[Any], function: str, change: str
) -> None:
    assert run(conn, function) == non_ringers(conn)
    assert run(conn, function) == set()  # nothing changed
    statements, changed_query = CHANGES[change]
    if function == SEASON:
        changed_query = SEASON_CHANGED.get(change, changed_query)
    execute(conn, statements)
    changed = {r[0] for r in conn.execute(changed_query, {"t": DEFAULT_TENANT_ID}).fetchall()}
    result = run(conn, function)
    after = rows(conn, function)
    # (a player who went, made a ringer or deleted, has no digest row to show)
    assert result == changed & non_ringers(conn)
    assert run(conn, function) == set()
    assert after == from_scratch(conn, function)


@pytest.mark.parametrize("then_scoped", [False, True])
@pytest.mark.parametrize("function", [RECENT, SEASON])
def test_rows_changed_by_someone_else_make_every_player_computed(
    conn: psycopg.Connection[Any], function: str, then_scoped: bool
) -> None:
    run(conn, function)
    expected = rows(conn, function)
    table = "aggregated_recent_performance" if function == RECENT else "aggregated_season_stats"
    column = "last_5_goals" if function == RECENT else "goals"
    conn.execute(
        f"UPDATE {table} SET {column} = {column} + 7"
        f" WHERE player_id = (SELECT min(player_id) FROM {table} WHERE tenant_id = %s)",
        (DEFAULT_TENANT_ID,),
    )
    if then_scoped:  # (of other players: the difference stays)
        others = sorted(non_ringers(conn))[-3:]
        scoped_run(conn, function, others)
    assert run(conn, function) == non_ringers(conn)
    assert rows(conn, function) == expected


@pytest.mark.parametrize("function", [RECENT, SEASON])
def test_a_scoped_run_then_a_full_run_give_the_rows_from_scratch(
    conn: psycopg.Connection[Any], function: str
) -> None:
    run(conn, function)
    statements, changed_query = CHANGES["a latest match"]
    execute(conn, statements)
    changed = [r[0] for r in conn.execute(changed_query, {"t": DEFAULT_TENANT_ID}).fetchall()]
    scoped_run(conn, function, changed)
    # the scoped run kept the state true: nobody to compute
    assert run(conn, function) == set()
    assert rows(conn, function) == from_scratch(conn, function)
    statements, changed_query = CHANGES["an old game's goals"]
    execute(conn, statements)
    changed = [r[0] for r in conn.execute(changed_query, {"t": DEFAULT_TENANT_ID}).fetchall()]
    scoped_run(conn, function, changed)
    execute(conn, CHANGES["an old game's result"][0])
    assert run(conn, function) == set(changed)
    after = rows(conn, function)
    assert after == from_scratch(conn, function)


def scoped_run(conn: psycopg.Connection[Any], function: str, players: list[int]) -> None:
    with conn.transaction():
        conn.execute(
            "SELECT set_config('capo.scope_players', %s, true)",
            ("{" + ",".join(map(str, players)) + "}",),
        )
        conn.execute(f"SELECT {function}(%s::uuid)", (DEFAULT_TENANT_ID,))


@pytest.mark.parametrize(
    ("before", "after"), [("2026-06-30", "2026-07-01"), ("2025-12-31", "2026-01-01")]
)
@pytest.mark.parametrize("function", [RECENT, SEASON])
def test_a_new_day_across_a_half_season_gives_the_rows_from_scratch(
    conn: psycopg.Connection[Any], function: str, before: str, after: str
) -> None:
    conn.execute("SELECT set_config('capo.as_of', %s, false)", (before,))
    run(conn, function)
    conn.execute("SELECT set_config('capo.as_of', %s, false)", (after,))
    result = run(conn, function)
    if function == RECENT:
        assert result == set()  # recent performance reads no date
    else:
        assert result == non_ringers(conn)  # the windows moved
    got = rows(conn, function)
    assert got == from_scratch(conn, function)


def test_the_state_is_written_per_function_and_player(conn: psycopg.Connection[Any]) -> None:
    run(conn, RECENT)
    run(conn, SEASON)
    counts = conn.execute(
        "SELECT kind, count(*) FILTER (WHERE player_id > 0) FROM capo_player_games_digests"
        " WHERE tenant_id = %s GROUP BY kind ORDER BY kind",
        (DEFAULT_TENANT_ID,),
    ).fetchall()
    n = len(non_ringers(conn))
    assert counts == [("recent_performance", n), ("season_stats", n)]
