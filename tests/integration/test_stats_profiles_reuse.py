"""Full runs of the player profiles recompute only the players a change affects.

A full run of update_aggregated_player_profile_stats compares a hash per match
(and per player) with the one the last run stored (capo_profile_match_state,
migration 0074) and recomputes only the players of the matches that changed.
Each test loads the capo league, runs the profiles in full, changes one thing,
runs them again and checks that the rows are exactly those a run from scratch
(state deleted) writes, and that only the affected players' rows were rewritten.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from capo_worker.constants import DEFAULT_TENANT_ID
from tests.support.league_rows import add_game, add_player, call
from tests.support.leagues import load_fixture

PROFILE = "update_aggregated_player_profile_stats"
Conn = psycopg.Connection[Any]


@pytest.fixture
def conn(db_url: str) -> Iterator[Conn]:
    load_fixture(db_url, "capo")
    with psycopg.connect(db_url, autocommit=True) as connection:
        yield connection


def rows(conn: Conn) -> dict[int, Any]:
    """Every column of every profile row (JSON kept as its text), by player."""
    found = conn.execute(
        """SELECT player_id, to_jsonb(p) - 'last_updated', teammate_chemistry_all::text,
                  yearly_stats::text
           FROM aggregated_player_profile_stats p WHERE tenant_id = %s""",
        (DEFAULT_TENANT_ID,),
    ).fetchall()
    return {int(r[0]): (r[1], r[2], r[3]) for r in found}


def xmins(conn: Conn) -> dict[int, str]:
    found = conn.execute(
        "SELECT player_id, xmin::text FROM aggregated_player_profile_stats WHERE tenant_id = %s",
        (DEFAULT_TENANT_ID,),
    ).fetchall()
    return {int(r[0]): str(r[1]) for r in found}


def from_scratch(conn: Conn) -> dict[int, Any]:
    """The rows a run without any stored state writes."""
    conn.execute("DELETE FROM capo_profile_stats_state")
    conn.execute("DELETE FROM capo_profile_match_state")
    call(conn, PROFILE)
    return rows(conn)


def matches_in_order(conn: Conn) -> list[tuple[int, str]]:
    found = conn.execute(
        "SELECT match_id, match_date::text FROM matches WHERE tenant_id = %s "
        "ORDER BY match_date, match_id",
        (DEFAULT_TENANT_ID,),
    ).fetchall()
    return [(int(r[0]), str(r[1])) for r in found]


def players_of(conn: Conn, *match_ids: int) -> set[int]:
    found = conn.execute(
        "SELECT DISTINCT pm.player_id FROM player_matches pm JOIN players p USING (player_id) "
        "WHERE pm.match_id = ANY(%s) AND NOT p.is_ringer",
        (list(match_ids),),
    ).fetchall()
    return {int(r[0]) for r in found}


def some_players(conn: Conn, n: int) -> list[int]:
    found = conn.execute(
        "SELECT player_id FROM players WHERE tenant_id = %s AND NOT is_ringer "
        "ORDER BY player_id LIMIT %s",
        (DEFAULT_TENANT_ID, n),
    ).fetchall()
    return [int(r[0]) for r in found]


# Each change edits the league and returns the players whose rows must be
# rewritten (None: not checked, e.g. when most players are affected).
Change = Callable[[Conn], "set[int] | None"]


def add_latest_match(conn: Conn) -> set[int] | None:
    ps = some_players(conn, 12)
    add_game(conn, 9001, "2026-11-27", 3, 2, {p: 1 for p in ps[:6]}, {p: 0 for p in ps[6:]})
    return set(ps)


def edit_old_match(conn: Conn) -> set[int] | None:
    match_id = matches_in_order(conn)[4][0]
    conn.execute(
        """UPDATE player_matches SET goals = goals + 2,
                  team = CASE WHEN team = 'A' THEN 'B' ELSE 'A' END
           WHERE player_match_id = (SELECT min(player_match_id) FROM player_matches
                                    WHERE match_id = %s)""",
        (match_id,),
    )
    return players_of(conn, match_id)


def insert_old_match(conn: Conn) -> set[int] | None:
    order = matches_in_order(conn)
    i = next(i for i in range(9, len(order) - 1) if order[i][1] < order[i + 1][1])
    ps = some_players(conn, 150)[-10:]
    add_game(conn, 9002, order[i][1], 2, 2, {p: 0 for p in ps[:5]}, {p: 1 for p in ps[5:]})
    return set(ps) | players_of(conn, order[i + 1][0])


def delete_match(conn: Conn) -> set[int] | None:
    order = matches_in_order(conn)
    gone, following = order[19][0], order[20][0]
    expected = players_of(conn, gone, following)
    conn.execute("DELETE FROM player_matches WHERE match_id = %s", (gone,))
    conn.execute("DELETE FROM matches WHERE match_id = %s", (gone,))
    return expected


def rename_player(conn: Conn) -> set[int] | None:
    conn.execute(
        "UPDATE players SET name = 'Renamed' WHERE player_id = %s", (some_players(conn, 3)[2],)
    )
    return None


def retire_player(conn: Conn) -> set[int] | None:
    conn.execute(
        "UPDATE players SET is_retired = true WHERE player_id = %s", (some_players(conn, 4)[3],)
    )
    return None


def change_selected_club(conn: Conn) -> set[int] | None:
    player = some_players(conn, 5)[4]
    conn.execute(
        """UPDATE players SET selected_club = '{"id": "1", "name": "Elsewhere"}'
           WHERE player_id = %s""",
        (player,),
    )
    return {player}


def add_new_player(conn: Conn) -> set[int] | None:
    add_player(conn, 9003, "Newcomer")
    return {9003}


CHANGES: dict[str, Change] = {
    "add a latest match": add_latest_match,
    "edit an old match's row": edit_old_match,
    "insert an old match in the middle": insert_old_match,
    "delete a match": delete_match,
    "rename a player": rename_player,
    "retire a player": retire_player,
    "change a selected club": change_selected_club,
    "add a player": add_new_player,
}


@pytest.mark.parametrize("change", list(CHANGES), ids=list(CHANGES))
def test_a_full_run_after_one_change_equals_a_run_from_scratch(conn: Conn, change: str) -> None:
    call(conn, PROFILE)
    before = xmins(conn)
    expected = CHANGES[change](conn)

    summary = call(conn, PROFILE)
    after = xmins(conn)
    got = rows(conn)
    rewritten = {p for p in set(before) | set(after) if before.get(p) != after.get(p)}

    assert summary["rows"] == len(got)
    assert got == from_scratch(conn)
    if expected is not None:
        assert rewritten == expected
        assert len(expected) * 2 < len(got), "the change should touch few players"


def test_nothing_changed_keeps_every_row(conn: Conn) -> None:
    first = call(conn, PROFILE)
    before = xmins(conn)
    assert call(conn, PROFILE) == first
    assert xmins(conn) == before


def test_rows_touched_by_anyone_else_are_all_recomputed(conn: Conn) -> None:
    call(conn, PROFILE)
    first = min(xmins(conn))
    conn.execute(
        "UPDATE aggregated_player_profile_stats SET games_played = -1 WHERE player_id = %s",
        (first,),
    )
    before = xmins(conn)
    call(conn, PROFILE)
    after = xmins(conn)
    assert all(after[p] != before[p] for p in before)
    assert rows(conn) == from_scratch(conn)


def scoped_run(conn: Conn, players: set[int]) -> None:
    with conn.transaction():
        conn.execute(
            "SELECT set_config('capo.scope_players', %s, true)",
            ("{" + ",".join(map(str, sorted(players))) + "}",),
        )
        call(conn, PROFILE)


def test_a_full_run_after_a_scoped_run_recomputes_only_the_affected_players(
    conn: Conn,
) -> None:
    call(conn, PROFILE)
    expected = add_latest_match(conn)
    assert expected is not None
    scoped_run(conn, expected)
    before = xmins(conn)
    call(conn, PROFILE)
    after = xmins(conn)
    assert {p for p in after if after[p] != before.get(p)} == expected
    assert rows(conn) == from_scratch(conn)


def test_a_change_undone_after_a_scoped_run_is_still_recomputed(conn: Conn) -> None:
    # The scoped run writes its players' rows from the changed match; the
    # change is then undone, so every match hash is again the one stored.
    call(conn, PROFILE)
    scratch = rows(conn)
    match_id = matches_in_order(conn)[-1][0]
    players = players_of(conn, match_id)
    conn.execute("UPDATE player_matches SET goals = goals + 3 WHERE match_id = %s", (match_id,))
    scoped_run(conn, players)
    assert rows(conn) != scratch
    conn.execute("UPDATE player_matches SET goals = goals - 3 WHERE match_id = %s", (match_id,))
    call(conn, PROFILE)
    assert rows(conn) == scratch == from_scratch(conn)
