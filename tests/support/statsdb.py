"""Helpers for tests that import leagues and run the stats through the worker's runner."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

import psycopg
from psycopg import sql

from capo_worker.constants import DEFAULT_TENANT_ID
from capo_worker.db import make_pool
from capo_worker.league.importer import ImportSummary, import_league
from capo_worker.league.model import League
from capo_worker.stats.runner import RunReport, StatsRunner

# Output tables and the columns that change on every run (timestamps, serial ids).
OUTPUT_TABLES: dict[str, tuple[str, ...]] = {
    "aggregated_half_season_stats": ("id", "last_updated"),
    "aggregated_season_stats": ("id", "last_updated"),
    "aggregated_all_time_stats": ("id", "last_updated"),
    "aggregated_hall_of_fame": ("id", "last_updated"),
    "aggregated_recent_performance": ("last_updated",),
    "aggregated_season_honours": ("last_updated",),
    "aggregated_records": ("id", "last_updated"),
    "aggregated_personal_bests": ("created_at", "updated_at"),
    "aggregated_match_report": ("last_updated",),
    "aggregated_player_profile_stats": ("last_updated",),
    "aggregated_season_race_data": ("race_data_id", "last_updated"),
    "aggregated_performance_ratings": ("updated_at",),
    "cache_metadata": ("last_invalidated",),
}


def run_graph(
    db_url: str,
    tenant_id: str = DEFAULT_TENANT_ID,
    *,
    as_of: dt.date | None = None,
    sequential: bool = False,
    parallelism: int = 4,
) -> RunReport:
    """One run of the ten functions through StatsRunner (graph mode unless sequential)."""

    async def go() -> RunReport:
        pool = make_pool(db_url, max_size=parallelism + 1, name="test-stats")
        await pool.open(wait=True)
        try:
            runner = StatsRunner(pool, parallelism=parallelism)
            return await runner.run(tenant_id, as_of=as_of, sequential=sequential)
        finally:
            await pool.close()

    return asyncio.run(go())


def failures(report: RunReport) -> dict[str, str | None]:
    return {r.function.name: r.error for r in report.results if r.status != "success"}


def details(report: RunReport) -> dict[str, dict[str, Any]]:
    return {r.function.name: r.details or {} for r in report.results}


def import_into(
    db_url: str,
    league: League,
    tenant_id: str = DEFAULT_TENANT_ID,
    *,
    replace: bool = False,
    renumber: bool = False,
) -> ImportSummary:
    async def go() -> ImportSummary:
        async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
            return await import_league(conn, league, tenant_id, replace=replace, renumber=renumber)

    return asyncio.run(go())


def create_tenant(db_url: str, name: str) -> str:
    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute(
            "INSERT INTO tenants (name) VALUES (%s) RETURNING tenant_id::text", (name,)
        ).fetchone()
    assert row is not None
    return str(row[0])


def delete_tenant_league(db_url: str, tenant_id: str = DEFAULT_TENANT_ID) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("SELECT capo_delete_tenant_league(%s)", (tenant_id,))


def dump_outputs(db_url: str, tenant_id: str = DEFAULT_TENANT_ID) -> dict[str, list[str]]:
    """Every output row of a tenant as sorted JSON text, without timestamps and serial ids."""
    dumped: dict[str, list[str]] = {}
    with psycopg.connect(db_url) as conn:
        for table, volatile in OUTPUT_TABLES.items():
            query = sql.SQL(
                "SELECT (to_jsonb(t) - %s::text[])::text FROM {} t WHERE tenant_id = %s"
            ).format(sql.Identifier(table))
            rows = conn.execute(query, (list(volatile), tenant_id)).fetchall()
            dumped[table] = sorted(str(r[0]) for r in rows)
    return dumped


def database_fingerprint(db_url: str) -> dict[str, tuple[int, str]]:
    """Row count and a digest of the contents of every table in the public schema."""
    with psycopg.connect(db_url) as conn:
        tables = [
            str(r[0])
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            ).fetchall()
        ]
        fingerprint = {}
        for table in tables:
            row = conn.execute(
                sql.SQL(
                    "SELECT count(*), md5(COALESCE(string_agg(t::text, '|' ORDER BY t::text), ''))"
                    " FROM {} t"
                ).format(sql.Identifier(table))
            ).fetchone()
            assert row is not None
            fingerprint[table] = (int(row[0]), str(row[1]))
        for seq in ("players_player_id_seq", "matches_match_id_seq"):
            value = conn.execute(
                sql.SQL("SELECT last_value, is_called FROM {}").format(sql.Identifier(seq))
            ).fetchone()
            fingerprint[seq] = (0, json.dumps(value))
    return fingerprint
