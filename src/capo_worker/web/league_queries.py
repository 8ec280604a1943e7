"""Reads of the aggregated tables for the /stats pages, one tenant at a time.

Ringers are left out of the league tables, as the web app does. Every query
filters on tenant_id: the aggregated tables of all clubs share one database.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg
from psycopg.rows import dict_row

Conn = psycopg.AsyncConnection[Any]
Row = dict[str, Any]


async def _rows(conn: Conn, sql: str, params: dict[str, Any]) -> list[Row]:
    cur = await conn.cursor(row_factory=dict_row).execute(sql.encode(), params)
    return list(await cur.fetchall())


async def seasons(conn: Conn, tenant_id: str) -> list[int]:
    """Years with season stats, newest first."""
    rows = await _rows(
        conn,
        """SELECT DISTINCT extract(year FROM season_start_date)::int AS year
           FROM aggregated_season_stats WHERE tenant_id = %(t)s ORDER BY 1 DESC""",
        {"t": tenant_id},
    )
    return [int(r["year"]) for r in rows]


# A league table row: the player's totals and his form (last five games).
_TABLE_COLUMNS = """p.player_id, p.name, s.games_played, s.wins, s.draws, s.losses, s.goals,
    s.heavy_wins, s.heavy_losses, s.clean_sheets, s.win_percentage, s.fantasy_points,
    s.points_per_game, COALESCE(r.last_5_games, '[]'::jsonb) AS last_5_games, r.last_5_goals"""
_FORM = """LEFT JOIN aggregated_recent_performance r
               ON r.player_id = s.player_id AND r.tenant_id = s.tenant_id"""


async def season_table(conn: Conn, tenant_id: str, year: int) -> list[Row]:
    return await _rows(
        conn,
        f"""SELECT {_TABLE_COLUMNS}
            FROM aggregated_season_stats s
            JOIN players p ON p.player_id = s.player_id
            {_FORM}
            WHERE s.tenant_id = %(t)s AND extract(year FROM s.season_start_date) = %(y)s
              AND NOT p.is_ringer
            ORDER BY s.fantasy_points DESC, s.goals DESC, p.name""",
        {"t": tenant_id, "y": year},
    )


async def half_season_table(conn: Conn, tenant_id: str) -> list[Row]:
    return await _rows(
        conn,
        f"""SELECT {_TABLE_COLUMNS}
            FROM aggregated_half_season_stats s
            JOIN players p ON p.player_id = s.player_id
            {_FORM}
            WHERE s.tenant_id = %(t)s AND NOT p.is_ringer
            ORDER BY s.fantasy_points DESC, s.goals DESC, p.name""",
        {"t": tenant_id},
    )


async def half_season_window(conn: Conn) -> tuple[dt.date, dt.date] | None:
    try:
        cur = await conn.execute(
            "SELECT get_current_half_season_start_date(), get_current_half_season_end_date()"
        )
    except psycopg.Error:
        return None
    row = await cur.fetchone()
    return (row[0], row[1]) if row else None


async def all_time_table(conn: Conn, tenant_id: str) -> list[Row]:
    return await _rows(
        conn,
        """SELECT p.player_id, p.name, p.is_retired, a.games_played, a.wins, a.draws, a.losses,
                  a.goals, a.win_percentage, a.minutes_per_goal, a.heavy_win_percentage,
                  a.heavy_loss_percentage, a.clean_sheet_percentage, a.fantasy_points,
                  a.points_per_game
           FROM aggregated_all_time_stats a
           JOIN players p ON p.player_id = a.player_id
           WHERE a.tenant_id = %(t)s
           ORDER BY a.fantasy_points DESC, a.goals DESC, p.name""",
        {"t": tenant_id},
    )


HALL_OF_FAME_CATEGORIES = {
    "most_goals": "Most goals",
    "best_win_percentage": "Best win %",
    "most_fantasy_points": "Most fantasy points",
}


async def hall_of_fame(conn: Conn, tenant_id: str) -> dict[str, list[Row]]:
    rows = await _rows(
        conn,
        """SELECT h.category, p.name, h.value
           FROM aggregated_hall_of_fame h JOIN players p ON p.player_id = h.player_id
           WHERE h.tenant_id = %(t)s
           ORDER BY h.category, h.value DESC, h.player_id""",
        {"t": tenant_id},
    )
    grouped: dict[str, list[Row]] = {c: [] for c in HALL_OF_FAME_CATEGORIES}
    for row in rows:
        grouped.setdefault(str(row["category"]), []).append(row)
    return grouped


async def recent_form(conn: Conn, tenant_id: str) -> list[Row]:
    """Players with at least one game, most goals in their last five first."""
    return await _rows(
        conn,
        """SELECT p.name, r.last_5_games, r.last_5_goals,
                  (r.last_5_games -> 0 ->> 'date') AS last_played
           FROM aggregated_recent_performance r JOIN players p ON p.player_id = r.player_id
           WHERE r.tenant_id = %(t)s AND jsonb_array_length(COALESCE(r.last_5_games, '[]')) > 0
           ORDER BY (r.last_5_games -> 0 ->> 'date') DESC, r.last_5_goals DESC, p.name""",
        {"t": tenant_id},
    )


async def latest_match_report(conn: Conn, tenant_id: str) -> Row | None:
    rows = await _rows(
        conn,
        """SELECT m.*, fire.name AS on_fire_name, reaper.name AS grim_reaper_name
           FROM aggregated_match_report m
           LEFT JOIN players fire ON fire.player_id = m.on_fire_player_id
           LEFT JOIN players reaper ON reaper.player_id = m.grim_reaper_player_id
           WHERE m.tenant_id = %(t)s
           ORDER BY m.match_date DESC, m.match_id DESC LIMIT 1""",
        {"t": tenant_id},
    )
    return rows[0] if rows else None


async def season_race(conn: Conn, tenant_id: str) -> tuple[int | None, dict[str, list[Any]]]:
    """The latest year's race data: period_type -> player_data."""
    rows = await _rows(
        conn,
        """SELECT season_year, period_type, player_data FROM aggregated_season_race_data
           WHERE tenant_id = %(t)s AND season_year = (
               SELECT max(season_year) FROM aggregated_season_race_data WHERE tenant_id = %(t)s)
           ORDER BY period_type""",
        {"t": tenant_id},
    )
    if not rows:
        return None, {}
    data = {
        str(r["period_type"]): r["player_data"] if isinstance(r["player_data"], list) else []
        for r in rows
    }
    return int(rows[0]["season_year"]), data


async def last_updated(conn: Conn, tenant_id: str) -> dt.datetime | None:
    cur = await conn.execute(
        "SELECT max(last_invalidated) FROM cache_metadata WHERE tenant_id = %s", (tenant_id,)
    )
    row = await cur.fetchone()
    return row[0] if row else None
