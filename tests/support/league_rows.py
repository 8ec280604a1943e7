"""Hand-built test leagues: rows of players, matches, player_matches and config, and a
stats function called at a pinned date."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from capo_worker.constants import DEFAULT_TENANT_ID

TODAY = "2026-11-28"


def add_player(
    conn: psycopg.Connection[Any],
    player_id: int,
    name: str,
    *,
    ringer: bool = False,
    retired: bool | None = False,
    tenant: str = DEFAULT_TENANT_ID,
) -> None:
    conn.execute(
        """INSERT INTO players (player_id, name, is_ringer, is_retired, tenant_id)
           VALUES (%s, %s, %s, %s, %s)""",
        (player_id, name, ringer, retired, tenant),
    )


def add_match(
    conn: psycopg.Connection[Any],
    match_id: int,
    date: str,
    score_a: int,
    score_b: int,
    *,
    tenant: str = DEFAULT_TENANT_ID,
) -> None:
    conn.execute(
        """INSERT INTO matches (match_id, match_date, team_a_score, team_b_score, tenant_id)
           VALUES (%s, %s, %s, %s, %s)""",
        (match_id, date, score_a, score_b, tenant),
    )


def add_row(
    conn: psycopg.Connection[Any],
    player_id: int,
    match_id: int | None,
    team: str | None,
    goals: int | None,
    result: str | None,
    heavy_win: bool | None = False,
    heavy_loss: bool | None = False,
    clean_sheet: bool | None = False,
    *,
    tenant: str = DEFAULT_TENANT_ID,
) -> None:
    """One player_matches row exactly as given (NULLs included)."""
    conn.execute(
        """INSERT INTO player_matches (player_id, match_id, team, goals, result, heavy_win,
                                       heavy_loss, clean_sheet, tenant_id)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        (player_id, match_id, team, goals, result, heavy_win, heavy_loss, clean_sheet, tenant),
    )


def set_config(
    conn: psycopg.Connection[Any], key: str, value: str, *, tenant: str = DEFAULT_TENANT_ID
) -> None:
    conn.execute(
        """INSERT INTO app_config (config_key, config_value, tenant_id) VALUES (%s, %s, %s)
           ON CONFLICT (tenant_id, config_key)
           DO UPDATE SET config_value = EXCLUDED.config_value""",
        (key, value, tenant),
    )


def add_played(
    conn: psycopg.Connection[Any],
    player_id: int,
    match_id: int,
    team: str,
    goals: int,
    score_a: int,
    score_b: int,
    *,
    tenant: str = DEFAULT_TENANT_ID,
) -> None:
    """A row with the derived fields set as the app sets them (10-inputs §2.1)."""
    own, opp = (score_a, score_b) if team == "A" else (score_b, score_a)
    result = "win" if own > opp else "loss" if own < opp else "draw"
    heavy = abs(own - opp) >= 4
    add_row(
        conn,
        player_id,
        match_id,
        team,
        goals,
        result,
        result == "win" and heavy,
        result == "loss" and heavy,
        opp == 0,
        tenant=tenant,
    )


def add_game(
    conn: psycopg.Connection[Any],
    match_id: int,
    date: str,
    score_a: int,
    score_b: int,
    team_a: dict[int, int],
    team_b: dict[int, int],
    *,
    tenant: str = DEFAULT_TENANT_ID,
) -> None:
    """A match and its players' rows; team_a/team_b map player_id -> goals."""
    add_match(conn, match_id, date, score_a, score_b, tenant=tenant)
    for team, players in (("A", team_a), ("B", team_b)):
        for player_id, goals in players.items():
            add_played(conn, player_id, match_id, team, goals, score_a, score_b, tenant=tenant)


def call(
    conn: psycopg.Connection[Any], fn: str, *, tenant: str = DEFAULT_TENANT_ID, as_of: str = TODAY
) -> dict[str, Any]:
    """Run one stats function in its own transaction at `as_of`; its jsonb summary."""
    with conn.transaction():
        conn.execute("SELECT set_config('capo.as_of', %s, true)", (as_of,))
        row = conn.execute(
            sql.SQL("SELECT {}(%s::uuid)").format(sql.Identifier(fn)), (tenant,)
        ).fetchone()
    assert row is not None
    summary: dict[str, Any] = row[0]
    return summary
