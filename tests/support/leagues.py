"""Helpers for tests that load a league and run the stats functions directly."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from capo_worker.constants import DEFAULT_TENANT_ID
from capo_worker.league.importer import import_league
from capo_worker.league.model import League, load_league_file
from capo_worker.stats.registry import STATS_FUNCTIONS, dependency_order
from tests.support.paths import FIXTURES

PUBLIC_LEAGUES = ("tiny", "small", "spring", "small_config", "capo")


def league_path(name: str) -> Path:
    return FIXTURES / "leagues" / f"{name}.json"


def golden_dir(name: str) -> Path:
    return FIXTURES / "golden" / name


def load_league(db_url: str, league: League, tenant_id: str = DEFAULT_TENANT_ID) -> None:
    async def _run() -> None:
        async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
            await import_league(conn, league, tenant_id)

    asyncio.run(_run())


def load_fixture(db_url: str, name: str, tenant_id: str = DEFAULT_TENANT_ID) -> League:
    league = load_league_file(league_path(name))
    load_league(db_url, league, tenant_id)
    return league


def run_stats_sequentially(
    db_url: str, as_of: str | None, tenant_id: str = DEFAULT_TENANT_ID
) -> dict[str, str | None]:
    """Call each stats function in dependency order, each in its own transaction.

    Returns function name -> error message (None when it succeeded).
    """
    outcome: dict[str, str | None] = {}
    with psycopg.connect(db_url, autocommit=True) as conn:
        for fn in dependency_order(STATS_FUNCTIONS):
            try:
                with conn.transaction():
                    if as_of:
                        conn.execute("SELECT set_config('capo.as_of', %s, true)", (as_of,))
                    conn.execute(f"SELECT {fn.name}(%s::uuid)".encode(), (tenant_id,))
                outcome[fn.name] = None
            except psycopg.Error as exc:
                outcome[fn.name] = str(exc).strip()
    return outcome


def tiny_league_data() -> dict[str, Any]:
    """The tiny league file as JSON data, a fresh copy to change."""
    return dict(json.loads(league_path("tiny").read_text()))


def mutated(change: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    """The tiny league's data after `change` (which edits it in place)."""
    data = tiny_league_data()
    change(data)
    return data
