"""Benchmark of the league pages: their size and render time on the capo and large leagues.

For each league: a fresh database, the league imported, its stats computed for
the league's date through the worker's StatsRunner; then each page is fetched
REPEAT times through the app (in this process, over ASGI) after one warm-up.
Printed and written into docs/benchmarks.md (between markers): the bytes of
each page, the median and worst time to answer, and the longest stall of the
event loop while the pages were answered (a ticker task notes how late it
wakes; rendering runs in a worker thread, so a worker sharing the process keeps
its loop).

    python -m bench.pages                       # embedded PostgreSQL in a temp dir
    BENCH_DATABASE_URL=postgresql://... python -m bench.pages --repeat 5
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make `bench.stats` and `tests` importable
    sys.path.insert(0, str(ROOT))

from bench.stats import LEAGUES, TENANT, fresh_database, load, server, write_doc  # noqa: E402
from tests.support.web import app_client  # noqa: E402

from capo_worker.db import drop_database, make_pool  # noqa: E402
from capo_worker.league.model import load_league_file  # noqa: E402
from capo_worker.stats.runner import StatsRunner  # noqa: E402

BEGIN, END = "<!-- bench/pages.py: begin -->", "<!-- bench/pages.py: end -->"
TICK_S = 0.005  # the ticker's sleep; a wake-up later than this is a stall


@dataclass
class PageResult:
    url: str
    size: int = 0
    times_ms: list[float] = field(default_factory=list)


@dataclass
class LeagueResult:
    name: str
    players: int
    pages: list[PageResult]
    worst_stall_ms: float


async def busiest_player(url: str) -> int:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        cur = await conn.execute(
            """SELECT player_id FROM aggregated_player_profile_stats
               ORDER BY json_array_length(teammate_chemistry_all) DESC LIMIT 1"""
        )
        row = await cur.fetchone()
    return int(row[0]) if row else 1


async def compute_stats(url: str, as_of: dt.date | None) -> None:
    pool = make_pool(url, max_size=4)
    await pool.open(wait=True)
    try:
        report = await StatsRunner(pool).run(TENANT, as_of=as_of)
    finally:
        await pool.close()
    if not report.ok:
        raise SystemExit(f"stats failed: {[r.error for r in report.results if r.error]}")


async def measure(url: str, name: str, repeat: int) -> LeagueResult:
    league = load_league_file(LEAGUES[name][0])
    await load(url, league)
    await compute_stats(url, league.as_of)
    player = await busiest_player(url)
    urls = [
        "/stats",
        "/stats/tables/season",
        "/stats/tables/all-time?page=2",
        "/stats/players?q=an",
        f"/stats/players/{player}",
        "/stats/honours",
    ]
    results = [PageResult(u) for u in urls]
    stalls: list[float] = []
    running = True

    async def ticker() -> None:
        while running:
            before = time.perf_counter()
            await asyncio.sleep(TICK_S)
            stalls.append((time.perf_counter() - before - TICK_S) * 1000)

    async with app_client(url) as client:
        for result in results:  # warm-up
            assert (await client.get(result.url)).status_code == 200, result.url
        tick = asyncio.create_task(ticker())
        for _ in range(repeat):
            for result in results:  # interleaved, so load on the machine hits all alike
                started = time.perf_counter()
                answer = await client.get(result.url)
                result.times_ms.append((time.perf_counter() - started) * 1000)
                result.size = len(answer.content)
        running = False
        await tick
    return LeagueResult(name, len(league.players), results, max(stalls, default=0.0))


def table(result: LeagueResult) -> list[str]:
    lines = [
        f"**{result.name}** ({result.players:,} players); longest event-loop stall while "
        f"answering: {result.worst_stall_ms:.0f} ms.",
        "",
        "| page | KB | median ms | worst ms |",
        "|---|---:|---:|---:|",
    ]
    for page in result.pages:
        lines.append(
            f"| `{page.url}` | {page.size / 1000:,.0f} | "
            f"{statistics.median(page.times_ms):.0f} | {max(page.times_ms):.0f} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leagues", default="capo,large", help="comma-separated")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="do not update the docs")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    results = []
    with server() as admin_url:
        for name in args.leagues.split(","):
            db_name = f"capo_bench_pages_{name}"
            url = fresh_database(admin_url, db_name)
            try:
                results.append(asyncio.run(measure(url, name, args.repeat)))
            finally:
                drop_database(admin_url, db_name)
    lines = [
        BEGIN,
        "## League pages",
        "",
        f"Measured {dt.date.today().isoformat()} with `python -m bench.pages --repeat "
        f"{args.repeat}`: {os.cpu_count()} cores, Python {platform.python_version()}, load "
        f"average {load_before:.1f} at the start. Each page is fetched through the app over "
        "ASGI (no network), after one warm-up, the pages taking turns. The overview shows the "
        "top 10 of each table; the whole tables are paged (50 rows). Goal for the large league: "
        "under 600 KB (it was 1.8 MB before the tables were cut to their top).",
        "",
    ]
    for result in results:
        lines += [*table(result), ""]
    lines.append(END)
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        write_doc(text, BEGIN, END)


if __name__ == "__main__":
    main()
