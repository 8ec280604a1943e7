"""Benchmark: the stats on an adopted Capo database, with and without the migration's ANALYZE.

Adoption adds a tenant_id column to the app's tables; until the tables are
analyzed the planner knows nothing of it, and the stats functions, which
filter on it everywhere, get bad plans. `migrate` analyzes every table it
changed. For each league: the app's database (tests/fixtures/reference_db
with the league, its golden outputs and Node-era jobs), `migrate` timed,
one warm-up run, REPEAT runs of the ten functions as a graph; then the
statistics of the tenant_id columns are deleted (what the tables had before
migrate analyzed them: statistics for the app's columns, none for the new
one) and the runs repeated, each function limited to TIMEOUT seconds. The
outputs are compared with the league's goldens. Medians are printed and
written into docs/benchmarks.md ("Adopting a Capo database" section).

    python -m bench.adoption                        # capo and large, embedded PostgreSQL
    python -m bench.adoption --leagues capo --repeat 3 --no-write
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make `tests` and `bench` importable
    sys.path.insert(0, str(ROOT))

from bench.stats import (  # noqa: E402
    LEAGUES,
    check_golden,
    league_names,
    median,
    server,
    server_facts,
    write_doc,
)
from tests.support import reference_db  # noqa: E402

from capo_worker.db import drop_database, make_pool  # noqa: E402
from capo_worker.migrate import migrate  # noqa: E402
from capo_worker.stats.runner import StatsRunner  # noqa: E402

BEGIN, END = "<!-- bench/adoption.py: begin -->", "<!-- bench/adoption.py: end -->"
TENANT = "00000000-0000-0000-0000-000000000001"
TIMEOUT_SECONDS = 120.0
AS_OF = dt.date(2026, 11, 28)  # the goldens' date

_FORGET_TENANT_STATISTICS = """
DELETE FROM pg_statistic s USING pg_attribute a
WHERE a.attrelid = s.starelid AND a.attnum = s.staattnum AND a.attname = 'tenant_id'
"""


@dataclass
class Result:
    league: str
    migrate_ms: int
    analyzed: int
    with_statistics: list[int]
    without: list[int]
    failures_without: list[str]  # "<function>: <why>", one per failed run
    golden: str


async def graph_runs(url: str, repeat: int) -> tuple[list[int], list[str]]:
    pool = make_pool(url, max_size=5, name="bench-adoption")
    await pool.open(wait=True)
    try:
        runner = StatsRunner(pool, statement_timeout_seconds=TIMEOUT_SECONDS)
        await runner.run(TENANT, as_of=AS_OF)  # warm-up: caches, plans, first writes
        totals, failures = [], []
        for _ in range(repeat):
            report = await runner.run(TENANT, as_of=AS_OF)
            totals.append(report.duration_ms)
            failures += [
                f"{r.function.name}: "
                + ("time limit" if "statement timeout" in (r.error or "") else "error")
                for r in report.results
                if r.status == "failed"
            ]
        return totals, failures
    finally:
        await pool.close()


def measure(admin_url: str, name: str, repeat: int) -> Result:
    league, golden = LEAGUES[name]
    db = f"capo_bench_adopt_{name}"
    drop_database(admin_url, db)
    url = reference_db.build(admin_url, db, league=league, golden=golden)
    try:
        started = time.perf_counter()
        report = asyncio.run(migrate(url))
        migrate_ms = round((time.perf_counter() - started) * 1000)
        analyzed, _ = asyncio.run(graph_runs(url, repeat))
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(_FORGET_TENANT_STATISTICS)
        without, failures = asyncio.run(graph_runs(url, repeat))
        checked = check_golden(url, golden)
    finally:
        drop_database(admin_url, db)
    return Result(name, migrate_ms, len(report.analyzed), analyzed, without, failures, checked)


def rows(results: list[Result]) -> list[str]:
    lines = [
        "| league | migrate (ms) | tables analyzed | stats as a graph (ms) "
        "| same, tenant_id not analyzed (ms) |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in results:
        without = f"{median(r.without):,}"
        for failure, count in sorted(Counter(r.failures_without).items()):
            name, why = failure.split(": ", 1)
            without += f" ({name} failed in {count} of {len(r.without)} runs: {why})"
        lines.append(
            f"| {r.league} | {r.migrate_ms:,} | {r.analyzed} | {median(r.with_statistics):,} "
            f"| {without} |"
        )
    return lines


def section(results: list[Result], repeat: int, version: str, cpu: str) -> str:
    lines = [
        BEGIN,
        "## Adopting a Capo database",
        "",
        f"Measured {dt.date.today().isoformat()} with `python -m bench.adoption --repeat "
        f"{repeat}`: {os.cpu_count()} cores ({cpu}), PostgreSQL {version}, Python "
        f"{platform.python_version()}. The app's database with the league, its golden outputs "
        "and Node-era jobs; `migrate` adopts it (and analyzes the tables it changed); then "
        f"the ten functions as a graph, median of {repeat} runs after a warm-up; then the same "
        "after deleting the statistics of the new tenant_id columns, as adoption left them "
        f"before it analyzed (each function limited to {TIMEOUT_SECONDS:g} s).",
        "",
        *rows(results),
        "",
        "Golden check after the runs: "
        + "; ".join(f"{r.league}: {r.golden}" for r in results)
        + ".",
        END,
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leagues", default="capo,large", help="comma-separated")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="do not update the docs")
    args = parser.parse_args()
    names = league_names(parser, args.leagues)
    results = []
    with server() as admin_url:
        version, cpu = server_facts(admin_url)
        for name in names:
            print(f"{name}: adopting and running...", file=sys.stderr, flush=True)
            results.append(measure(admin_url, name, args.repeat))
            print("\n".join(rows(results[-1:])), flush=True)
    if not args.no_write:
        write_doc(section(results, args.repeat, version, cpu), BEGIN, END)
        print("Wrote the results into docs/benchmarks.md.", file=sys.stderr)


if __name__ == "__main__":
    main()
