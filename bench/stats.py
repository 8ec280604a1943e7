"""Benchmark of the ten stats functions on the fixture leagues, sequential and as a graph.

For each league (tiny, small, capo from tests/fixtures, large from
bench/fixtures): a fresh database, the league imported and analysed, the
as-of date pinned to the league's, one warm-up run, then REPEAT runs one
function at a time (per-function times, and their sum as the sequential
total) and REPEAT runs as a graph through StatsRunner (wall-clock total, and
each function's time inside the graph, where they share the cores).

A full run may keep what did not change since the last one (the profiles'
rows, the records' candidates of players whose games are the same), so
the runs are measured in three states: after one match changed (before each
run the league's latest match is taken out or put back, as a nightly run
follows a match day: the main figures), from scratch (capo-worker's stored
state for the tenant deleted before each run, as the first run after an
import), and with nothing changed since the last run. Medians are printed as
a table per league and written into docs/benchmarks.md (the "Stats
functions" section, between markers; the rest of the file is kept). After
the runs, with the latest match in place, the outputs are compared with the
league's goldens.

    python -m bench.stats                      # embedded PostgreSQL in a temp dir
    BENCH_DATABASE_URL=postgresql://... python -m bench.stats --leagues capo,large
    python -m bench.stats --repeat 3 --no-write

BENCH_DATABASE_URL names a maintenance database on a server where the
benchmark may create and drop databases (capo_bench_<league>).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import platform
import statistics
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make `tests.support.golden` importable
    sys.path.insert(0, str(ROOT))

from bench.latest_match import HOLD, LatestMatch  # noqa: E402
from tests.support.golden import compare_folder  # noqa: E402

from capo_worker.db import (  # noqa: E402
    create_database,
    drop_database,
    make_pool,
    temporary_server,
)
from capo_worker.league.importer import import_league  # noqa: E402
from capo_worker.league.model import League, load_league_file  # noqa: E402
from capo_worker.migrate import migrate  # noqa: E402
from capo_worker.stats.registry import STATS_FUNCTIONS  # noqa: E402
from capo_worker.stats.runner import RunReport, StatsRunner  # noqa: E402

LEAGUES: dict[str, tuple[Path, Path]] = {
    "tiny": (ROOT / "tests/fixtures/leagues/tiny.json", ROOT / "tests/fixtures/golden/tiny"),
    "small": (ROOT / "tests/fixtures/leagues/small.json", ROOT / "tests/fixtures/golden/small"),
    "capo": (ROOT / "tests/fixtures/leagues/capo.json", ROOT / "tests/fixtures/golden/capo"),
    "large": (ROOT / "bench/fixtures/large.json.gz", ROOT / "bench/fixtures/golden/large"),
}
# The reference's functions, one after another, on the same machine size (2 cores).
REFERENCE_TOTAL_MS = {"capo": 2900, "large": 37000}
GOAL_MS = {"capo": 300, "large": 3500}
DOC = ROOT / "docs/benchmarks.md"
BEGIN, END = "<!-- bench/stats.py: begin -->", "<!-- bench/stats.py: end -->"
TENANT = "00000000-0000-0000-0000-000000000001"


@dataclass
class LeagueResult:
    name: str
    players: int
    matches: int
    player_matches: int
    # series -> function -> ms; the series are SERIES' keys
    times: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    totals: dict[str, list[int]] = field(default_factory=dict)  # series -> wall-clock ms
    golden: str = "not checked"

    def record(self, report: RunReport, series: str) -> None:
        failed = [r.function.name for r in report.results if r.status != "success"]
        if failed:
            raise SystemExit(f"{self.name}: stats functions failed: {', '.join(failed)}")
        target = self.times.setdefault(series, {})
        for r in report.results:
            target.setdefault(r.function.name, []).append(r.duration_ms)
        self.totals.setdefault(series, []).append(report.duration_ms)

    def median_of(self, series: str, function: str | None = None) -> int:
        if function is None:
            return median(self.totals[series])
        return median(self.times[series][function])


# The measured series: key -> column heading.
SERIES = {
    "changed": "alone, one match changed (ms)",
    "scratch": "alone, from scratch (ms)",
    "unchanged": "alone, nothing changed (ms)",
    "graph": "in the graph, one match changed (ms)",
}


def median(values: list[int]) -> int:
    return round(statistics.median(values))


@contextlib.contextmanager
def server() -> Iterator[str]:
    given = os.environ.get("BENCH_DATABASE_URL")
    if given:
        yield given
        return
    with temporary_server("capo-bench-pg-") as url:
        yield url


def fresh_database(admin_url: str, name: str) -> str:
    drop_database(admin_url, name)
    return create_database(admin_url, name)


async def load(url: str, league: League) -> None:
    await migrate(url)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await import_league(conn, league, TENANT)
        await conn.execute("VACUUM ANALYZE")


# capo-worker's stored state: every capo_ table with a tenant_id but the sign-in
# epochs (the tables capo_delete_tenant_league empties for a tenant).
STATE_TABLES = """SELECT c.oid::regclass::text FROM pg_class c
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id'
    WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'
      AND c.relname LIKE 'capo\\_%' AND c.relname <> 'capo_admin_session_epochs'"""


async def forget_stored_state(conn: psycopg.AsyncConnection) -> None:
    """Delete the tenant's stored state, so that the next full run starts from scratch."""
    cur = await conn.execute(STATE_TABLES)
    for (table_name,) in await cur.fetchall():
        await conn.execute(
            sql.SQL("DELETE FROM {} WHERE tenant_id = %s").format(sql.Identifier(table_name)),
            (TENANT,),
        )


async def measure(
    url: str, name: str, league: League, repeat: int, parallelism: int
) -> LeagueResult:
    result = LeagueResult(
        name, len(league.players), len(league.matches), len(league.player_matches)
    )
    pool = make_pool(url, max_size=parallelism + 1, name="bench")
    await pool.open(wait=True)
    try:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            runner = StatsRunner(pool, parallelism=parallelism, statement_timeout_seconds=3600)
            latest = LatestMatch()

            async def execute(statements: tuple[str, ...]) -> None:
                for statement in statements:
                    await conn.execute(statement, {"tenant": TENANT})

            await execute(HOLD)
            await runner.run(TENANT, as_of=league.as_of)  # warm-up: caches, plans, first writes
            for _ in range(repeat):
                await execute(latest.toggle())
                seq = await runner.run(TENANT, as_of=league.as_of, sequential=True)
                result.record(seq, "changed")
                await execute(latest.toggle())
                result.record(await runner.run(TENANT, as_of=league.as_of), "graph")
                result.record(
                    await runner.run(TENANT, as_of=league.as_of, sequential=True), "unchanged"
                )
                await forget_stored_state(conn)
                result.record(
                    await runner.run(TENANT, as_of=league.as_of, sequential=True), "scratch"
                )
            await execute(latest.restore())
            await runner.run(TENANT, as_of=league.as_of)  # the outputs the goldens check
    finally:
        await pool.close()
    return result


def check_golden(url: str, folder: Path) -> str:
    with psycopg.connect(url) as conn:
        diffs = compare_folder(conn, folder)
    bad = [d.table for d in diffs if not d.ok]
    return "all tables equal" if not bad else f"DIFFERS: {', '.join(bad)}"


def table(result: LeagueResult, parallelism: int) -> list[str]:
    lines = [
        f"**{result.name}**: {result.players:,} players, {result.matches:,} matches, "
        f"{result.player_matches:,} player_matches; golden check: {result.golden}.",
        "",
        "| function | " + " | ".join(SERIES.values()) + " |",
        "|---|" + "---:|" * len(SERIES),
    ]
    for fn in STATS_FUNCTIONS:
        cells = [str(result.median_of(series, fn.name)) for series in SERIES]
        lines.append(f"| {fn.name} | " + " | ".join(cells) + " |")
    sequential = [f"**{result.median_of(s)}**" if s != "graph" else "" for s in SERIES]
    lines.append("| **total, one after another** | " + " | ".join(sequential) + " |")
    graph = result.median_of("graph")
    lines.append(
        f"| **total as a graph** ({parallelism} at a time) |"
        + " |" * (len(SERIES) - 1)
        + f" **{graph}** |"
    )
    reference = REFERENCE_TOTAL_MS.get(result.name)
    if reference:
        goal = GOAL_MS[result.name]
        changed, scratch = result.median_of("changed"), result.median_of("scratch")
        lines += [
            "",
            f"Reference (ten functions one after another, every run from scratch): about "
            f"{reference:,} ms; goal: under {goal:,} ms. Here, one after another: {changed:,} ms "
            f"after one match changed ({reference / max(changed, 1):.0f}x faster), {scratch:,} ms "
            f"from scratch ({reference / max(scratch, 1):.0f}x); as a graph {graph:,} ms "
            f"({reference / max(graph, 1):.0f}x).",
        ]
    return lines


def server_facts(admin_url: str) -> tuple[str, str]:
    with psycopg.connect(admin_url) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    version = str(row[0]) if row else "?"
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return version, cpu


def section(results: list[LeagueResult], args: argparse.Namespace, version: str, cpu: str) -> str:
    where = "BENCH_DATABASE_URL" if os.environ.get("BENCH_DATABASE_URL") else "embedded"
    lines = [
        BEGIN,
        "## Stats functions",
        "",
        f"Measured {dt.date.today().isoformat()} with `python -m bench.stats --repeat "
        f"{args.repeat} --parallelism {args.parallelism}`: {os.cpu_count()} cores ({cpu}), "
        f"PostgreSQL {version} ({where}), Python {platform.python_version()}, load average "
        f"{args.load_before:.1f} at the start. Each league is "
        "imported into a fresh database and analysed; the as-of date is the league's; after one "
        f"warm-up run, {args.repeat} rounds of four runs: one function at a time after the "
        "league's latest match was taken out or put back (one match changed since the last "
        "run, as a nightly run follows a match day), as a graph through the worker's "
        "StatsRunner after the next such change, one function at a time with nothing changed, "
        "and one function at a time from scratch (capo-worker's stored state for the tenant "
        'deleted first, as on the first run after an import). Medians in milliseconds. "Alone" '
        'is a function\'s time when it runs by itself; "in the graph" its time while sharing '
        "the machine with the functions running next to it; the totals are wall-clock times of "
        "the whole run. Every run is a full run: it writes exactly what the reference would, "
        "keeping only what it can prove unchanged (docs/stats.md).",
        "",
    ]
    for result in results:
        lines += [*table(result, args.parallelism), ""]
    lines.append(END)
    return "\n".join(lines) + "\n"


def write_doc(text: str, begin: str = BEGIN, end: str = END, doc: Path = DOC) -> None:
    """Put `text` between the markers in `doc` (docs/benchmarks.md; at its end if none)."""
    current = doc.read_text() if doc.exists() else "# Benchmarks\n"
    if begin in current and end in current:
        head, rest = current.split(begin, 1)
        tail = rest.split(end, 1)[1].lstrip("\n")
        new = head + text + ("\n" + tail if tail else "")
    else:
        new = current.rstrip("\n") + "\n\n" + text
    doc.write_text(new)


def league_names(parser: argparse.ArgumentParser, value: str) -> list[str]:
    """The leagues of a comma-separated --leagues value; unknown ones end the program."""
    names = [n.strip() for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n not in LEAGUES]
    if unknown:
        parser.error(f"unknown league(s) {', '.join(unknown)}; use {', '.join(LEAGUES)}")
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leagues", default=",".join(LEAGUES), help="comma-separated")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--parallelism", type=int, default=4)
    parser.add_argument("--no-write", action="store_true", help="do not update the docs")
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    args = parser.parse_args()
    names = league_names(parser, args.leagues)

    args.load_before = os.getloadavg()[0]  # other work on the machine skews the figures
    results = []
    with server() as admin_url:
        version, cpu = server_facts(admin_url)
        for name in names:
            path, golden = LEAGUES[name]
            league = load_league_file(path)
            db = f"capo_bench_{name}"
            url = fresh_database(admin_url, db)
            try:
                asyncio.run(load(url, league))
                print(f"{name}: loaded, running...", file=sys.stderr, flush=True)
                result = asyncio.run(measure(url, name, league, args.repeat, args.parallelism))
                result.golden = check_golden(url, golden)
            finally:
                if not args.keep:
                    drop_database(admin_url, db)
            results.append(result)
            print("\n".join(table(result, args.parallelism)) + "\n", flush=True)
    text = section(results, args, version, cpu)
    if not args.no_write:
        write_doc(text)
        print(f"Wrote the results into {DOC.relative_to(ROOT)}.", file=sys.stderr)


if __name__ == "__main__":
    main()
