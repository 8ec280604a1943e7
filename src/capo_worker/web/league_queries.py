"""Reads of the aggregated tables for the /stats pages, one tenant at a time.

Ringers are left out of the league tables, as the web app does. Every query
filters on tenant_id: the aggregated tables of all clubs share one database.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row

Conn = psycopg.AsyncConnection[Any]
Row = dict[str, Any]


async def fetch_rows(conn: Conn, sql: str, params: dict[str, Any]) -> list[Row]:
    cur = await conn.cursor(row_factory=dict_row).execute(sql.encode(), params)
    return list(await cur.fetchall())


async def seasons(conn: Conn, tenant_id: str) -> list[int]:
    """Years with season stats, newest first."""
    rows = await fetch_rows(
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


@dataclass(frozen=True)
class Window:
    """Which rows of a ranked table to show: a page of them, optionally only matching names."""

    limit: int
    offset: int = 0
    search: str = ""

    @classmethod
    def page(cls, number: int, size: int, search: str = "") -> Window:
        """Page `number` (from 1) of `size` rows."""
        return cls(limit=size, offset=(number - 1) * size, search=search)


@dataclass(frozen=True)
class Slice:
    """A page of a ranked table: each row keeps its rank in the whole table."""

    rows: list[Row]
    total: int  # rows matching the search (all rows without one)

    def pages(self, size: int) -> int:
        """How many pages of `size` rows the matching rows fill (at least one)."""
        return max(1, -(-self.total // size))


def _like(search: str) -> str:
    escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def ranked_slice(
    conn: Conn, ranked_sql: str, params: dict[str, Any], window: Window
) -> Slice:
    """`ranked_sql` selects the whole table with a `rank` and a `name` column."""
    rows = await fetch_rows(
        conn,
        f"""SELECT *, count(*) OVER () AS matching FROM ({ranked_sql}) ranked
            WHERE %(search)s = '' OR name ILIKE %(like)s
            ORDER BY rank LIMIT %(limit)s OFFSET %(offset)s""",
        {
            **params,
            "search": window.search,
            "like": _like(window.search),
            "limit": window.limit,
            "offset": window.offset,
        },
    )
    if rows:
        return Slice(rows, int(rows[0]["matching"]))
    if window.offset == 0:
        return Slice([], 0)
    # Past the last page: count what there is, so the page can link back.
    cur = await conn.execute(
        f"""SELECT count(*) FROM ({ranked_sql}) ranked
            WHERE %(search)s = '' OR name ILIKE %(like)s""".encode(),
        {**params, "search": window.search, "like": _like(window.search)},
    )
    found = await cur.fetchone()
    return Slice([], int(found[0]) if found else 0)


_LEAGUE_ORDER = "s.fantasy_points DESC, s.goals DESC, p.name"


async def season_table(conn: Conn, tenant_id: str, year: int, window: Window) -> Slice:
    return await ranked_slice(
        conn,
        f"""SELECT {_TABLE_COLUMNS}, row_number() OVER (ORDER BY {_LEAGUE_ORDER}) AS rank
            FROM aggregated_season_stats s
            JOIN players p ON p.player_id = s.player_id
            {_FORM}
            WHERE s.tenant_id = %(t)s AND extract(year FROM s.season_start_date) = %(y)s
              AND NOT p.is_ringer""",
        {"t": tenant_id, "y": year},
        window,
    )


async def half_season_table(conn: Conn, tenant_id: str, window: Window) -> Slice:
    return await ranked_slice(
        conn,
        f"""SELECT {_TABLE_COLUMNS}, row_number() OVER (ORDER BY {_LEAGUE_ORDER}) AS rank
            FROM aggregated_half_season_stats s
            JOIN players p ON p.player_id = s.player_id
            {_FORM}
            WHERE s.tenant_id = %(t)s AND NOT p.is_ringer""",
        {"t": tenant_id},
        window,
    )


def half_season_window(day: dt.date) -> tuple[dt.date, dt.date]:
    """The half-season containing `day`: as get_current_half_season_start/end_date() (SQL)."""
    if day.month <= 6:
        return dt.date(day.year, 1, 1), dt.date(day.year, 6, 30)
    return dt.date(day.year, 7, 1), dt.date(day.year, 12, 31)


async def computed_for(conn: Conn, tenant_id: str) -> dict[str, dt.date]:
    """Stats function -> the date it last computed its tables for (written by the runner)."""
    try:
        cur = await conn.execute(
            "SELECT function_name, as_of FROM capo_stats_computed_for WHERE tenant_id = %s",
            (tenant_id,),
        )
    except psycopg.errors.UndefinedTable:  # a database capo-worker has not migrated yet
        return {}
    return {str(name): day for name, day in await cur.fetchall()}


async def today(conn: Conn) -> dt.date:
    """The database's today: capo.as_of when a test or staging database pins it."""
    try:
        cur = await conn.execute("SELECT capo_today()")
    except psycopg.errors.UndefinedFunction:  # the stats functions are not installed yet
        return dt.date.today()
    row = await cur.fetchone()
    return row[0] if row else dt.date.today()


async def all_time_table(conn: Conn, tenant_id: str, window: Window) -> Slice:
    return await ranked_slice(
        conn,
        """SELECT p.player_id, p.name, p.is_retired, a.games_played, a.wins, a.draws, a.losses,
                  a.goals, a.win_percentage, a.minutes_per_goal, a.heavy_win_percentage,
                  a.heavy_loss_percentage, a.clean_sheet_percentage, a.fantasy_points,
                  a.points_per_game,
                  row_number() OVER (ORDER BY a.fantasy_points DESC, a.goals DESC, p.name) AS rank
           FROM aggregated_all_time_stats a
           JOIN players p ON p.player_id = a.player_id
           WHERE a.tenant_id = %(t)s""",
        {"t": tenant_id},
        window,
    )


async def power_ratings(conn: Conn, tenant_id: str, window: Window) -> Slice:
    """Qualified players first (best rating first), then those with too few recent games."""
    return await ranked_slice(
        conn,
        """SELECT p.player_id, p.name, r.power_rating, r.goal_threat, r.participation,
                  r.power_percentile, r.goal_percentile, r.participation_percentile,
                  r.is_qualified, r.weighted_played,
                  row_number() OVER (ORDER BY r.is_qualified DESC, r.power_rating DESC,
                                              p.name) AS rank
           FROM aggregated_performance_ratings r
           JOIN players p ON p.player_id = r.player_id
           WHERE r.tenant_id = %(t)s AND NOT p.is_ringer""",
        {"t": tenant_id},
        window,
    )


HALL_OF_FAME_CATEGORIES = {
    "most_goals": "Most goals",
    "best_win_percentage": "Best win %",
    "most_fantasy_points": "Most fantasy points",
}


async def hall_of_fame(conn: Conn, tenant_id: str) -> dict[str, list[Row]]:
    rows = await fetch_rows(
        conn,
        """SELECT h.category, p.player_id, p.name, h.value
           FROM aggregated_hall_of_fame h JOIN players p ON p.player_id = h.player_id
           WHERE h.tenant_id = %(t)s
           ORDER BY h.category, h.value DESC, h.player_id""",
        {"t": tenant_id},
    )
    grouped: dict[str, list[Row]] = {c: [] for c in HALL_OF_FAME_CATEGORIES}
    for row in rows:
        grouped.setdefault(str(row["category"]), []).append(row)
    return grouped


async def config_value(conn: Conn, tenant_id: str, key: str, default: str) -> str:
    cur = await conn.execute(
        "SELECT config_value FROM app_config WHERE tenant_id = %s AND config_key = %s",
        (tenant_id, key),
    )
    row = await cur.fetchone()
    return str(row[0]) if row and row[0] is not None else default


async def hall_of_fame_thresholds(conn: Conn, tenant_id: str) -> dict[str, str]:
    """What it takes to enter each list (update_aggregated_hall_of_fame's filters)."""
    games = await config_value(conn, tenant_id, "games_required_for_hof", "50")
    return {
        "most_goals": "at least one goal",
        "best_win_percentage": f"at least {games} games and a win",
        "most_fantasy_points": "more than 0 fantasy points",
    }


async def rating_threshold(conn: Conn, tenant_id: str) -> str:
    """Weighted games a player needs for a qualified rating (update_power_ratings)."""
    return await config_value(conn, tenant_id, "performance_qualification_threshold", "5")


async def recent_form(conn: Conn, tenant_id: str, window: Window) -> Slice:
    """Players with at least one game, the latest to play first, most goals in five first."""
    return await ranked_slice(
        conn,
        """SELECT p.player_id, p.name, r.last_5_games, r.last_5_goals,
                  (r.last_5_games -> 0 ->> 'date') AS last_played,
                  row_number() OVER (ORDER BY (r.last_5_games -> 0 ->> 'date') DESC,
                                              r.last_5_goals DESC, p.name) AS rank
           FROM aggregated_recent_performance r JOIN players p ON p.player_id = r.player_id
           WHERE r.tenant_id = %(t)s
             AND jsonb_array_length(COALESCE(r.last_5_games, '[]')) > 0""",
        {"t": tenant_id},
        window,
    )


async def latest_match_report(conn: Conn, tenant_id: str) -> Row | None:
    rows = await fetch_rows(
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
    rows = await fetch_rows(
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
