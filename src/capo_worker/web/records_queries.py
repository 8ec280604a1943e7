"""Reads for the honours page and the latest-match card: season honours, league records
and the personal bests set in the latest match.
"""

from __future__ import annotations

from typing import Any

from capo_worker.web.league_queries import Conn, Row, fetch_rows

# aggregated_season_honours: the keys of season_winners / top_scorers, best first.
PLACES = {"winners": "Champion", "runners_up": "Runner-up", "third_place": "Third"}
# aggregated_records.records -> streaks: the four result streaks, in the order shown.
RESULT_STREAKS = ("Win Streak", "Undefeated Streak", "Losing Streak", "Winless Streak")
PB_LABELS = {
    "most_goals_in_game": "goals in a game",
    "attendance_streak": "games in a row attended",
    "longest_scoring_streak": "games in a row with a goal",
    "longest_win_streak": "wins in a row",
    "longest_undefeated_streak": "games unbeaten",
    "longest_losing_streak": "losses in a row",
    "longest_winless_streak": "games without a win",
}


async def season_honours(conn: Conn, tenant_id: str) -> list[Row]:
    """One row per finished year, newest first: its top three by points and by goals."""
    return await fetch_rows(
        conn,
        """SELECT year, season_winners, top_scorers FROM aggregated_season_honours
           WHERE tenant_id = %(t)s AND year IS NOT NULL ORDER BY year DESC""",
        {"t": tenant_id},
    )


async def records(conn: Conn, tenant_id: str) -> dict[str, Any]:
    """The league records document (the newest row, as the match report reads it)."""
    rows = await fetch_rows(
        conn,
        """SELECT records FROM aggregated_records WHERE tenant_id = %(t)s
           ORDER BY last_updated DESC NULLS LAST, id DESC LIMIT 1""",
        {"t": tenant_id},
    )
    document = rows[0]["records"] if rows else None
    return document if isinstance(document, dict) else {}


async def personal_bests(conn: Conn, tenant_id: str, match_id: int) -> list[Row]:
    """The PBs set in `match_id`: one entry per player, most PBs first, then by name."""
    rows = await fetch_rows(
        conn,
        """SELECT broken_pbs_data FROM aggregated_personal_bests
           WHERE tenant_id = %(t)s AND match_id = %(m)s""",
        {"t": tenant_id, "m": match_id},
    )
    data = rows[0]["broken_pbs_data"] if rows else None
    entries: list[Row] = []
    for key, value in (data or {}).items() if isinstance(data, dict) else []:
        if not isinstance(value, dict):
            continue
        pbs = [pb for pb in value.get("pbs") or [] if isinstance(pb, dict)]
        player_id = int(key) if str(key).isdigit() else None
        entries.append({"player_id": player_id, "name": str(value.get("name", "?")), "pbs": pbs})
    return sorted(entries, key=lambda e: (-len(e["pbs"]), e["name"]))
