"""Benchmark: a post-match job (scoped to its match) against a full job, on the large league.

A fresh database gets the league without its last match; an admin job runs
(full, and records the state post-match jobs decide from); the last match is
saved. Then, interleaved REPEAT times, a post-match job for that match, an
admin job (full) and an admin job from scratch (capo-worker's stored state
for the tenant deleted first, so nothing is kept from earlier runs; it
records the state again for the next post-match job), all through the
worker's stats handler on the league's as-of date. Printed and written into
docs/benchmarks.md (between markers): the medians of each job's stats time
(the graph's wall clock), the sum of its functions' times, the whole handler
call (with the scope decision and the state update), and each function's
time in all three.

    python -m bench.post_match                 # embedded PostgreSQL in a temp dir
    BENCH_DATABASE_URL=postgresql://... python -m bench.post_match --repeat 5
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make `bench` and `tests` importable
    sys.path.insert(0, str(ROOT))

from bench.stats import (  # noqa: E402
    LEAGUES,
    TENANT,
    forget_stored_state,
    fresh_database,
    load,
    median,
    server,
    server_facts,
    write_doc,
)
from tests.support.replay import save_match, split_league  # noqa: E402

from capo_worker import queue  # noqa: E402
from capo_worker.config import Settings  # noqa: E402
from capo_worker.db import drop_database, make_pool  # noqa: E402
from capo_worker.handlers import JobContext  # noqa: E402
from capo_worker.job_row import Trigger  # noqa: E402
from capo_worker.league.model import load_league_file  # noqa: E402
from capo_worker.results import JobResults  # noqa: E402
from capo_worker.stats.job import StatsUpdateHandler  # noqa: E402
from capo_worker.stats.registry import STATS_FUNCTIONS  # noqa: E402
from capo_worker.stats.requests import StatsRequest, enqueue_stats  # noqa: E402
from capo_worker.stats.runner import StatsRunner  # noqa: E402

BEGIN, END = "<!-- bench/post_match.py: begin -->", "<!-- bench/post_match.py: end -->"
GOAL_RATIO = 20
GOAL_MS = 20


@dataclass
class JobTimes:
    stats: list[int] = field(default_factory=list)  # the graph's wall clock
    summed: list[int] = field(default_factory=list)  # the functions' times added up
    handler: list[int] = field(default_factory=list)  # the whole handler call
    functions: dict[str, list[int]] = field(default_factory=dict)
    scopes: dict[str, str] = field(default_factory=dict)

    def record(self, results: JobResults, handler_ms: int) -> None:
        self.stats.append(results.stats_duration_ms or 0)
        self.summed.append(sum(f.duration or 0 for f in results.function_results))
        self.handler.append(handler_ms)
        for f in results.function_results:
            self.functions.setdefault(f.function, []).append(f.duration or 0)
            self.scopes[f.function] = f.scope or "?"


async def run_job(
    handler: StatsUpdateHandler, ctx: JobContext, trigger: Trigger, match_id: int | None
) -> tuple[JobResults, int]:
    async with ctx.pool.connection() as conn:
        await conn.set_autocommit(True)
        enqueued = await enqueue_stats(
            conn, StatsRequest.new(trigger, match_id=match_id), TENANT, ctx.settings
        )
        job = await queue.get_job(conn, enqueued.job_id)
        assert job is not None
        await conn.execute(
            "UPDATE background_job_status SET status = 'completed' WHERE id = %s", (job.id,)
        )
    started = time.perf_counter()
    outcome = await handler(job, ctx)
    elapsed = round((time.perf_counter() - started) * 1000)
    if not outcome.ok:
        raise SystemExit(f"{trigger} job failed: {outcome.error}")
    read = JobResults.read(outcome.results)
    assert read.results is not None
    return read.results, elapsed


async def measure(url: str, match_id: int, repeat: int) -> tuple[JobTimes, JobTimes, JobTimes]:
    pool = make_pool(url, max_size=6, name="bench-post-match")
    await pool.open(wait=True)
    scoped, full, scratch = JobTimes(), JobTimes(), JobTimes()
    try:
        settings = Settings.model_construct()
        ctx = JobContext(pool, settings, "bench", logging.getLogger("bench"))
        handler = StatsUpdateHandler(StatsRunner(pool, statement_timeout_seconds=3600))
        await run_job(handler, ctx, "post-match", match_id)  # warm-up
        for _ in range(repeat):
            scoped.record(*await run_job(handler, ctx, "post-match", match_id))
            full.record(*await run_job(handler, ctx, "admin", None))
            async with pool.connection() as conn:
                await conn.set_autocommit(True)
                await forget_stored_state(conn)
            scratch.record(*await run_job(handler, ctx, "admin", None))
    finally:
        await pool.close()
    return scoped, full, scratch


def report(
    name: str, counts: str, scoped: JobTimes, full: JobTimes, scratch: JobTimes, repeat: int
) -> list[str]:
    lines = [
        f"**{name}**: {counts}; {repeat} post-match jobs, {repeat} full (admin) jobs and "
        f"{repeat} full jobs from scratch, interleaved; medians in milliseconds.",
        "",
        "| | post-match job | full job | ratio | full job from scratch | ratio |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, a, b, c in (
        ("stats (the graph's wall clock)", scoped.stats, full.stats, scratch.stats),
        ("the functions' times added up", scoped.summed, full.summed, scratch.summed),
        (
            "the whole handler call (with decision and state)",
            scoped.handler,
            full.handler,
            scratch.handler,
        ),
    ):
        post = max(median(a), 1)
        lines.append(
            f"| {label} | {median(a)} | {median(b)} | 1/{median(b) / post:.1f} | "
            f"{median(c)} | 1/{median(c) / post:.1f} |"
        )
    always_full = [f.name for f in STATS_FUNCTIONS if scoped.scopes.get(f.name) == "full"]
    full_part = sum(median(scoped.functions[f]) for f in always_full)
    lines += [
        "",
        f"Of the post-match job's {median(scoped.summed)} ms (functions added up), "
        f"{full_part} ms are the functions that ran in full ({', '.join(always_full)}; "
        "docs/stats.md says why): with the scoped ones at zero, the ratio would be "
        f"1/{median(full.summed) / max(full_part, 1):.1f}.",
        "",
        "| function | post-match scope | post-match (ms) | full (ms) | from scratch (ms) |",
        "|---|---|---:|---:|---:|",
    ]
    for fn in STATS_FUNCTIONS:
        lines.append(
            f"| {fn.name} | {scoped.scopes.get(fn.name, '?')} | "
            f"{median(scoped.functions[fn.name])} | {median(full.functions[fn.name])} | "
            f"{median(scratch.functions[fn.name])} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--league", default="large", choices=sorted(LEAGUES))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="do not update the docs")
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    path, _ = LEAGUES[args.league]
    league = load_league_file(path)
    base, saved = split_league(league, 1)
    last = saved[0]
    with server() as admin_url:
        version, cpu = server_facts(admin_url)
        db = f"capo_bench_post_match_{args.league}"
        url = fresh_database(admin_url, db)
        try:
            asyncio.run(load(url, base))
            as_of = (league.as_of or dt.date.today()).isoformat()
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f"ALTER DATABASE \"{db}\" SET capo.as_of = '{as_of}'".encode())
            print(f"{args.league}: loaded, running...", file=sys.stderr, flush=True)
            # No state yet: this first job runs in full and records it.
            asyncio.run(measure(url, last.match.match_id, 0))
            save_match(url, last, TENANT)
            scoped, full, scratch = asyncio.run(measure(url, last.match.match_id, args.repeat))
        finally:
            drop_database(admin_url, db)
    counts = (
        f"{len(league.players):,} players, {len(league.matches):,} matches, "
        f"{len(league.player_matches):,} player_matches"
    )
    lines = report(args.league, counts, scoped, full, scratch, args.repeat)
    print("\n".join(lines), flush=True)
    where = "BENCH_DATABASE_URL" if os.environ.get("BENCH_DATABASE_URL") else "embedded"
    text = "\n".join(
        [
            BEGIN,
            "## Post-match jobs",
            "",
            f"Measured {dt.date.today().isoformat()} with `python -m bench.post_match --repeat "
            f"{args.repeat}`: {os.cpu_count()} cores ({cpu}), PostgreSQL {version} ({where}), "
            f"load average {load_before:.1f} at the start. Goal: a post-match job's stats at "
            f"most 1/{GOAL_RATIO} of a full job's (beyond: under {GOAL_MS} ms).",
            "",
            *lines,
            END,
        ]
    )
    if not args.no_write:
        write_doc(text + "\n", BEGIN, END)
        print("Wrote the results into docs/benchmarks.md.", file=sys.stderr)


if __name__ == "__main__":
    main()
