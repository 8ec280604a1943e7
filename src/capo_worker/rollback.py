"""Going back to the Node worker: the single-club keys the app's own functions need.

Adoption turns the app's single-club unique keys into per-tenant ones
(0004_per_tenant_keys.sql). The app's functions upsert on the old keys
(`ON CONFLICT (cache_key)`, ...), so before they are re-installed,
`capo-worker prepare-rollback` adds unique indexes on the old columns again.
It refuses while capo-worker still runs or holds jobs, and when the
database holds more than one club (the Node worker knows one). Switching
forward again, `capo-worker migrate` drops them (docs/operations.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from capo_worker import queue
from capo_worker.tenants import other_clubs

# index name -> (table, the app's key columns)
SINGLE_CLUB_KEYS: dict[str, tuple[str, tuple[str, ...]]] = {
    "capo_single_club_players_name": ("players", ("name",)),
    "capo_single_club_app_config_key": ("app_config", ("config_key",)),
    "capo_single_club_cache_metadata_key": ("cache_metadata", ("cache_key",)),
    "capo_single_club_season_honours_year": ("aggregated_season_honours", ("year",)),
    "capo_single_club_season_race_data_period": (
        "aggregated_season_race_data",
        ("season_year", "period_type"),
    ),
}


class RollbackRefusedError(Exception):
    """The database cannot be handed to the Node worker yet; the message says why."""


@dataclass(frozen=True)
class RollbackReport:
    created: list[str]
    requeued_jobs: int
    dry_run: bool


async def single_club_keys(conn: psycopg.AsyncConnection[Any]) -> list[str]:
    """The single-club keys present (left by prepare-rollback)."""
    cur = await conn.execute(
        "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
        "AND indexname = ANY(%s) ORDER BY 1",
        (list(SINGLE_CLUB_KEYS),),
    )
    return [str(r[0]) for r in await cur.fetchall()]


async def drop_single_club_keys(conn: psycopg.AsyncConnection[Any]) -> None:
    async with conn.transaction():
        for name in await single_club_keys(conn):
            await conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))


async def prepare_rollback(
    conn: psycopg.AsyncConnection[Any],
    *,
    lease_seconds: float,
    heartbeat_limit_seconds: float,
    dry_run: bool = False,
) -> RollbackReport:
    """Check that capo-worker is stopped and one club is left, then add the keys.

    Jobs of stopped workers whose lease expired go back to the queue first, as
    a worker would do, so the Node worker picks them up.
    """
    age = await queue.last_worker_heartbeat_age(conn)
    if age is not None and age <= heartbeat_limit_seconds:
        raise RollbackRefusedError(
            f"A capo-worker worker reported {age:.0f} s ago: stop every capo-worker process "
            "(worker, run, web) first, then run capo-worker prepare-rollback again."
        )
    others = await other_clubs(conn)
    if others:
        raise RollbackRefusedError(
            "The Node worker and the app's functions know one club, and this database also "
            f"holds the league of tenant(s) {', '.join(others)}. Fix: remove them first "
            "(SELECT capo_delete_tenant_league(<tenant id>)), or stay on capo-worker."
        )
    missing = [n for n in SINGLE_CLUB_KEYS if n not in await single_club_keys(conn)]
    if dry_run:
        return RollbackReport(missing, 0, dry_run=True)
    rescued = await queue.rescue_expired(conn, lease_seconds=lease_seconds)
    cur = await conn.execute(
        "SELECT count(*) FROM background_job_status "
        "WHERE status = 'processing' AND locked_by IS NOT NULL"
    )
    held = await cur.fetchone()
    if held and held[0]:
        raise RollbackRefusedError(
            f"{held[0]} job(s) are still held by a stopped capo-worker; their lease ends within "
            f"{lease_seconds:g} s. Run capo-worker prepare-rollback again then."
        )
    try:
        async with conn.transaction():
            for name in missing:
                table, columns = SINGLE_CLUB_KEYS[name]
                await conn.execute(
                    sql.SQL("CREATE UNIQUE INDEX {} ON {} ({})").format(
                        sql.Identifier(name),
                        sql.Identifier(table),
                        sql.SQL(", ").join(map(sql.Identifier, columns)),
                    )
                )
    except psycopg.Error as exc:
        reason = " ".join((exc.diag.message_primary or str(exc)).split())
        raise RollbackRefusedError(
            f"Could not add the single-club keys ({reason}); nothing was changed."
        ) from None
    return RollbackReport(missing, len(rescued), dry_run=False)
