"""Reads for the player pages and the player links: one player's profile and rating.

Every query filters on tenant_id, as in league_queries: the clubs share one database.
"""

from __future__ import annotations

from typing import Any, Literal

from capo_worker.web.league_queries import Conn, Row, Slice, Window, fetch_rows, ranked_slice


async def player_ids(conn: Conn, tenant_id: str) -> dict[str, int]:
    """Name -> player id, to link the names the stats store without an id (records, report)."""
    cur = await conn.execute(
        "SELECT name, player_id FROM players WHERE tenant_id = %s AND NOT is_ringer",
        (tenant_id,),
    )
    return {str(name): int(pid) for name, pid in await cur.fetchall()}


async def player(conn: Conn, player_id: int) -> Row | None:
    """The player (any tenant; the page checks the tenant) or None."""
    rows = await fetch_rows(
        conn,
        """SELECT player_id, name, tenant_id::text AS tenant_id, is_ringer, is_retired, join_date
           FROM players WHERE player_id = %(p)s""",
        {"p": player_id},
    )
    return rows[0] if rows else None


async def profile(conn: Conn, tenant_id: str, player_id: int) -> Row | None:
    """The aggregated_player_profile_stats row: career bests, streaks, years, teammates."""
    return await _player_row(conn, "aggregated_player_profile_stats", tenant_id, player_id)


async def rating(conn: Conn, tenant_id: str, player_id: int) -> Row | None:
    return await _player_row(conn, "aggregated_performance_ratings", tenant_id, player_id)


async def all_time_row(conn: Conn, tenant_id: str, player_id: int) -> Row | None:
    return await _player_row(conn, "aggregated_all_time_stats", tenant_id, player_id)


PlayerTable = Literal[
    "aggregated_player_profile_stats", "aggregated_performance_ratings", "aggregated_all_time_stats"
]


async def _player_row(conn: Conn, table: PlayerTable, tenant_id: str, player_id: int) -> Row | None:
    """One player's row of an aggregated table keyed by (tenant_id, player_id)."""
    rows = await fetch_rows(
        conn,
        f"SELECT * FROM {table} WHERE tenant_id = %(t)s AND player_id = %(p)s",
        {"t": tenant_id, "p": player_id},
    )
    return rows[0] if rows else None


async def recent_games(conn: Conn, tenant_id: str, player_id: int) -> list[Any]:
    rows = await fetch_rows(
        conn,
        """SELECT last_5_games FROM aggregated_recent_performance
           WHERE tenant_id = %(t)s AND player_id = %(p)s""",
        {"t": tenant_id, "p": player_id},
    )
    games = rows[0]["last_5_games"] if rows else None
    return games if isinstance(games, list) else []


async def search_players(conn: Conn, tenant_id: str, window: Window) -> Slice:
    """Every non-ringer of the tenant, by name, with his career games."""
    return await ranked_slice(
        conn,
        """SELECT p.player_id, p.name, p.is_retired, COALESCE(a.games_played, 0) AS games_played,
                  a.goals, a.fantasy_points, row_number() OVER (ORDER BY p.name) AS rank
           FROM players p
           LEFT JOIN aggregated_all_time_stats a
             ON a.player_id = p.player_id AND a.tenant_id = p.tenant_id
           WHERE p.tenant_id = %(t)s AND NOT p.is_ringer""",
        {"t": tenant_id},
        window,
    )
