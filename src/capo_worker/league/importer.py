"""Load a validated league into the input tables of one tenant, in one transaction."""

from __future__ import annotations

import json
from dataclasses import dataclass

import psycopg

from capo_worker.league.model import League, LeagueFileError

_SEQUENCES = (
    ("players", "player_id"),
    ("matches", "match_id"),
    ("player_matches", "player_match_id"),
)


@dataclass(frozen=True)
class ImportSummary:
    tenant_id: str
    players: int
    matches: int
    player_matches: int
    app_config: int


async def _tenant_has_league(cur: psycopg.AsyncCursor[tuple[object, ...]], tenant_id: str) -> bool:
    await cur.execute(
        """SELECT EXISTS (SELECT 1 FROM players WHERE tenant_id = %(t)s)
               OR EXISTS (SELECT 1 FROM matches WHERE tenant_id = %(t)s)""",
        {"t": tenant_id},
    )
    row = await cur.fetchone()
    return bool(row and row[0])


async def _taken_ids(
    cur: psycopg.AsyncCursor[tuple[object, ...]], table: str, column: str, ids: list[int]
) -> list[int]:
    query = f"SELECT {column} FROM {table} WHERE {column} = ANY(%s) ORDER BY 1 LIMIT 5"
    await cur.execute(query.encode(), (ids,))
    return [int(r[0]) for r in await cur.fetchall()]  # type: ignore[call-overload]


async def import_league(
    conn: psycopg.AsyncConnection[tuple[object, ...]],
    league: League,
    tenant_id: str,
    *,
    replace: bool = False,
) -> ImportSummary:
    """Insert the league with its own ids; nothing is written if anything fails.

    The tenant must have no league yet unless `replace` is set, in which case
    its input and aggregated rows are deleted first (same transaction).
    """
    async with conn.transaction(), conn.cursor() as cur:
        if await _tenant_has_league(cur, tenant_id):
            if not replace:
                raise LeagueFileError(
                    f"tenant {tenant_id} already has a league; use --replace to overwrite it"
                )
            await cur.execute("SELECT capo_delete_tenant_league(%s)", (tenant_id,))
        for table, column, ids in (
            ("players", "player_id", [p.player_id for p in league.players]),
            ("matches", "match_id", [m.match_id for m in league.matches]),
            (
                "player_matches",
                "player_match_id",
                [pm.player_match_id for pm in league.player_matches],
            ),
        ):
            taken = await _taken_ids(cur, table, column, ids)
            if taken:
                raise LeagueFileError(
                    f"{table}: {column} {', '.join(map(str, taken))} already used by another "
                    "tenant; import into an empty database or another database"
                )

        async with cur.copy(
            """COPY players (player_id, name, join_date, is_ringer, is_retired, goalscoring,
                             defender, stamina_pace, control, teamwork, resilience,
                             selected_club, tenant_id) FROM STDIN"""
        ) as copy:
            for p in league.players:
                await copy.write_row(
                    (
                        p.player_id,
                        p.name,
                        p.join_date,
                        p.is_ringer,
                        p.is_retired,
                        p.goalscoring,
                        p.defender,
                        p.stamina_pace,
                        p.control,
                        p.teamwork,
                        p.resilience,
                        None if p.selected_club is None else json.dumps(p.selected_club),
                        tenant_id,
                    )
                )
        async with cur.copy(
            """COPY matches (match_id, match_date, team_a_score, team_b_score, team_a_own_goals,
                             team_b_own_goals, upcoming_match_id, tenant_id) FROM STDIN"""
        ) as copy:
            for m in league.matches:
                await copy.write_row(
                    (
                        m.match_id,
                        m.match_date,
                        m.team_a_score,
                        m.team_b_score,
                        m.team_a_own_goals,
                        m.team_b_own_goals,
                        m.upcoming_match_id,
                        tenant_id,
                    )
                )
        async with cur.copy(
            """COPY player_matches (player_match_id, player_id, match_id, team, goals, result,
                                    heavy_win, heavy_loss, clean_sheet, fantasy_points, tenant_id)
               FROM STDIN"""
        ) as copy:
            for pm in league.player_matches:
                await copy.write_row(
                    (
                        pm.player_match_id,
                        pm.player_id,
                        pm.match_id,
                        pm.team,
                        pm.goals,
                        pm.result,
                        pm.heavy_win,
                        pm.heavy_loss,
                        pm.clean_sheet,
                        pm.fantasy_points,
                        tenant_id,
                    )
                )
        for key, value in league.app_config.items():
            await cur.execute(
                """INSERT INTO app_config (config_key, config_value, tenant_id)
                   VALUES (%s, %s, %s)""",
                (key, value, tenant_id),
            )
        for table, column in _SEQUENCES:
            # Move the sequence past the imported ids so the app's next insert works.
            await cur.execute(
                f"""SELECT setval(pg_get_serial_sequence('{table}', '{column}'),
                                  GREATEST((SELECT max({column}) FROM {table}), 1))""".encode()
            )
        await cur.execute("ANALYZE players, matches, player_matches")
    return ImportSummary(
        tenant_id=tenant_id,
        players=len(league.players),
        matches=len(league.matches),
        player_matches=len(league.player_matches),
        app_config=len(league.app_config),
    )
