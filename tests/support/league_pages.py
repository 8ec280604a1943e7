"""Helpers of the league page tests: a league with its stats, and reading the pages' HTML."""

from __future__ import annotations

import asyncio
import datetime as dt
import re

from capo_worker.constants import DEFAULT_TENANT_ID
from capo_worker.db import make_pool
from capo_worker.league.model import League, load_league_file
from capo_worker.stats.registry import select
from capo_worker.stats.runner import StatsRunner
from tests.support.leagues import load_fixture, load_league
from tests.support.paths import REPO
from tests.support.web import pin_today

AS_OF = "2026-11-28"  # the fixture leagues' today
LARGE = REPO / "bench" / "fixtures" / "large.json.gz"  # 1,324 players, 4,838 matches


async def run_stats(
    db_url: str,
    as_of: dt.date | None = None,
    tenant_id: str = DEFAULT_TENANT_ID,
    only: list[str] | None = None,
) -> None:
    """The functions (all ten unless `only`) through the runner the worker uses, which
    records the day they computed for."""
    pool = make_pool(db_url, max_size=4)
    await pool.open(wait=True)
    try:
        chosen = select(only) if only else None
        report = await StatsRunner(pool).run(tenant_id, as_of=as_of, only=chosen)
    finally:
        await pool.close()
    assert report.ok, [r.error for r in report.results if r.error]


async def league_with_stats(db_url: str, name: str = "small") -> None:
    """A fixture league, today pinned to its date, and its stats computed for today."""
    await asyncio.to_thread(load_fixture, db_url, name)
    pin_today(db_url, AS_OF)
    await run_stats(db_url)


def large_league() -> League:
    return load_league_file(LARGE)


async def large_league_with_stats(db_url: str) -> None:
    await asyncio.to_thread(load_league, db_url, large_league())
    pin_today(db_url, AS_OF)
    await run_stats(db_url)


def section(html: str, section_id: str) -> str:
    found = re.search(rf'<(section|div|figure|p) [^>]*id="{section_id}".*?</\1>', html, re.S)
    assert found, f"no section {section_id}"
    return found.group(0)


def table_rows(html: str, table_id: str) -> list[str]:
    body = re.search(rf'<table id="{table_id}".*?<tbody>(.*?)</tbody>', html, re.S)
    assert body, f"no table {table_id}"
    return [
        r for r in re.findall(r"<tr.*?>(.*?)</tr>", body.group(1), re.S) if "empty-state" not in r
    ]


def player_cells(rows: list[str]) -> list[str]:
    """The player cell of each row."""
    cells = [re.search(r'<td class="player"[^>]*>(.*?)</td>', r, re.S) for r in rows]
    assert all(cells), rows[:2]
    return [c.group(1) for c in cells if c]


def player_names(rows: list[str]) -> list[str]:
    return [re.sub(r"<[^>]+>", "", c).split(" (")[0].strip() for c in player_cells(rows)]


def ranks(rows: list[str]) -> list[int]:
    return [int(re.search(r'<td class="num" data-value="(\d+)">', r).group(1)) for r in rows]  # type: ignore[union-attr]
