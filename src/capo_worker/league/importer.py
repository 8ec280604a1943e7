"""Load a validated league into the input tables of one tenant, in one transaction.

Ids are kept as given (the web app links players and matches by id). Player,
match and player_match ids are global serials shared by all tenants, so a
league whose ids another tenant already uses is refused, unless `renumber`
shifts all its ids past the largest ones in use (order, and so every
tie-break on ids, is kept). Imports take a transaction-level advisory lock,
so two imports never race for the same ids.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import psycopg

from capo_worker.league.model import League, LeagueFileError
from capo_worker.tenants import has_league

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
    # table -> how much its ids were shifted (only with renumber, when they collided)
    id_shift: dict[str, int] = field(default_factory=dict)


_IMPORT_LOCK = "capo-worker league import"


async def _taken_ids(
    cur: psycopg.AsyncCursor[tuple[object, ...]], table: str, column: str, ids: list[int]
) -> list[int]:
    query = f"SELECT {column} FROM {table} WHERE {column} = ANY(%s) ORDER BY 1 LIMIT 5"
    await cur.execute(query.encode(), (ids,))
    return [int(r[0]) for r in await cur.fetchall()]  # type: ignore[call-overload]


async def _max_id(cur: psycopg.AsyncCursor[tuple[object, ...]], table: str, column: str) -> int:
    await cur.execute(f"SELECT COALESCE(max({column}), 0) FROM {table}".encode())
    row = await cur.fetchone()
    return int(row[0]) if row else 0  # type: ignore[call-overload]


def _ids(league: League) -> dict[str, list[int]]:
    return {
        "players": [p.player_id for p in league.players],
        "matches": [m.match_id for m in league.matches],
        "player_matches": [pm.player_match_id for pm in league.player_matches],
    }


async def _id_shift(
    cur: psycopg.AsyncCursor[tuple[object, ...]], league: League, *, renumber: bool
) -> dict[str, int]:
    """How far to shift each table's ids: {} when none collides with another tenant's."""
    ids = _ids(league)
    collisions = {}
    for table, column in _SEQUENCES:
        taken = await _taken_ids(cur, table, column, ids[table])
        if taken:
            collisions[table] = (column, taken)
    if not collisions:
        return {}
    if not renumber:
        table, (column, taken) = next(iter(collisions.items()))
        raise LeagueFileError(
            f"{table}: {column} {', '.join(map(str, taken))} already used by another tenant "
            "(ids are shared by all tenants); nothing was imported. Fix: import with "
            "--renumber to give the league new ids, or import into another database"
        )
    return {table: await _max_id(cur, table, column) for table, column in _SEQUENCES}


def _shifted(league: League, shift: dict[str, int]) -> League:
    if not shift:
        return league
    p, m, pm = shift["players"], shift["matches"], shift["player_matches"]
    return league.model_copy(
        update={
            "players": [
                r.model_copy(update={"player_id": r.player_id + p}) for r in league.players
            ],
            "matches": [r.model_copy(update={"match_id": r.match_id + m}) for r in league.matches],
            "player_matches": [
                r.model_copy(
                    update={
                        "player_match_id": r.player_match_id + pm,
                        "player_id": r.player_id + p,
                        "match_id": r.match_id + m,
                    }
                )
                for r in league.player_matches
            ],
        }
    )


async def import_league(
    conn: psycopg.AsyncConnection[tuple[object, ...]],
    league: League,
    tenant_id: str,
    *,
    replace: bool = False,
    renumber: bool = False,
) -> ImportSummary:
    """Insert the league with its own ids; nothing is written if anything fails.

    The tenant must have no league yet unless `replace` is set, in which case
    its input and aggregated rows are deleted first (same transaction). With
    `renumber`, ids used by another tenant make the whole league move to new
    ids instead of failing.
    """
    try:
        return await _import(conn, league, tenant_id, replace=replace, renumber=renumber)
    except psycopg.errors.IntegrityError as exc:
        detail = exc.diag.message_detail or exc.diag.message_primary or str(exc)
        raise LeagueFileError(
            f"the database refused the league ({detail}); nothing was imported"
        ) from None


async def _import(
    conn: psycopg.AsyncConnection[tuple[object, ...]],
    league: League,
    tenant_id: str,
    *,
    replace: bool,
    renumber: bool,
) -> ImportSummary:
    async with conn.transaction(), conn.cursor() as cur:
        await cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (_IMPORT_LOCK,))
        if await has_league(conn, tenant_id):
            if not replace:
                raise LeagueFileError(
                    f"tenant {tenant_id} already has a league; nothing was imported. Fix: add "
                    "--replace to overwrite it, or import into another --tenant"
                )
            await cur.execute("SELECT capo_delete_tenant_league(%s)", (tenant_id,))
        shift = await _id_shift(cur, league, renumber=renumber)
        league = _shifted(league, shift)
        await _copy_rows(cur, league, tenant_id)
        for table, column in _SEQUENCES:
            # Move the sequence past the largest id so the app's next insert works.
            await cur.execute(
                f"""SELECT setval(pg_get_serial_sequence('{table}', '{column}'),
                                  (SELECT COALESCE(max({column}), 0) + 1 FROM {table}),
                                  false)""".encode()
            )
        await cur.execute("ANALYZE players, matches, player_matches")
    return ImportSummary(
        tenant_id=tenant_id,
        players=len(league.players),
        matches=len(league.matches),
        player_matches=len(league.player_matches),
        app_config=len(league.app_config),
        id_shift=shift,
    )


async def _copy_rows(
    cur: psycopg.AsyncCursor[tuple[object, ...]], league: League, tenant_id: str
) -> None:
    """COPY the three input tables and insert the config rows."""
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
