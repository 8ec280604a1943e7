"""Replaying a league match by match: saved, edited and deleted matches, and the stats jobs
that follow them (a post-match job on one database, a full run on another)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

import psycopg

from capo_worker import queue
from capo_worker.config import Settings
from capo_worker.constants import DEFAULT_TENANT_ID
from capo_worker.db import make_pool
from capo_worker.handlers import JobContext
from capo_worker.job_row import Trigger
from capo_worker.league.model import League, MatchRow, PlayerMatchRow
from capo_worker.results import JobResults
from capo_worker.stats.job import StatsUpdateHandler
from capo_worker.stats.requests import StatsRequest, enqueue_stats
from capo_worker.stats.runner import StatsRunner
from tests.support.web import pin_today


@dataclass(frozen=True)
class SavedMatch:
    """A match as the app saves it: the match row and its player_matches rows."""

    match: MatchRow
    rows: tuple[PlayerMatchRow, ...]


def split_league(league: League, replayed: int) -> tuple[League, list[SavedMatch]]:
    """The league without its last `replayed` matches (by date, then id), and those matches."""
    order = sorted(league.matches, key=lambda m: (m.match_date, m.match_id))
    later = order[len(order) - replayed :]
    later_ids = {m.match_id for m in later}
    base = league.model_copy(
        update={
            "matches": [m for m in league.matches if m.match_id not in later_ids],
            "player_matches": [r for r in league.player_matches if r.match_id not in later_ids],
        }
    )
    saved = [
        SavedMatch(m, tuple(r for r in league.player_matches if r.match_id == m.match_id))
        for m in later
    ]
    return base, saved


_MATCH_COLUMNS = tuple(MatchRow.model_fields)
_ROW_COLUMNS = tuple(PlayerMatchRow.model_fields)


def save_match(db_url: str, saved: SavedMatch, tenant_id: str = DEFAULT_TENANT_ID) -> None:
    """Insert the match, then its rows, in one transaction (as the app completes a match)."""
    with psycopg.connect(db_url) as conn, conn.transaction():
        _insert(conn, "matches", _MATCH_COLUMNS, saved.match.model_dump(), tenant_id)
        for row in saved.rows:
            _insert(conn, "player_matches", _ROW_COLUMNS, row.model_dump(), tenant_id)


def _insert(
    conn: psycopg.Connection[Any],
    table: str,
    columns: tuple[str, ...],
    values: dict[str, Any],
    tenant_id: str,
) -> None:
    names = ", ".join((*columns, "tenant_id"))
    marks = ", ".join(["%s"] * (len(columns) + 1))
    params = [values[c] for c in columns] + [tenant_id]
    conn.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})".encode(), params)


def execute_all(db_url: str, statements: list[tuple[str, tuple[Any, ...]]]) -> None:
    """Run `statements` in one transaction (an edit the app makes to a match)."""
    with psycopg.connect(db_url) as conn, conn.transaction():
        for statement, params in statements:
            conn.execute(statement.encode(), params)


def stats_job(
    db_url: str,
    day: dt.date,
    trigger: Trigger,
    match_id: int | None = None,
    *,
    also: list[StatsRequest] | None = None,
    tenant_id: str = DEFAULT_TENANT_ID,
    expect_ok: bool = True,
) -> JobResults:
    """Enqueue a stats request (and `also`, which join its job), then run that job's handler
    as the worker does, with today pinned to `day`. Returns the job's results."""
    pin_today(db_url, day.isoformat())

    async def go() -> JobResults:
        pool = make_pool(db_url, max_size=5, name="test-replay")
        await pool.open(wait=True)
        try:
            settings = Settings.model_construct(queue_name="stats-update-queue", max_attempts=3)
            async with pool.connection() as conn:
                await conn.set_autocommit(True)
                first = await enqueue_stats(
                    conn, StatsRequest.new(trigger, match_id=match_id), tenant_id, settings
                )
                for request in also or []:
                    await enqueue_stats(conn, request, tenant_id, settings)
                job = await queue.get_job(conn, first.job_id)
                assert job is not None
                # Taken off the queue, as a claim would, so later requests make a new job.
                await conn.execute(
                    "UPDATE background_job_status SET status = 'completed' WHERE id = %s",
                    (job.id,),
                )
            handler = StatsUpdateHandler(StatsRunner(pool, parallelism=3))
            ctx = JobContext(pool, settings, "test-replay", logging.getLogger("test-replay"))
            outcome = await handler(job, ctx)
            assert outcome.ok == expect_ok, outcome.error
            read = JobResults.read(outcome.results)
            assert read.results is not None and not read.unreadable
            return read.results
        finally:
            await pool.close()

    return asyncio.run(go())
