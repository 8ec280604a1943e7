"""Benchmark: one club's stats alone and among many clubs; the nightly cron for many clubs.

1. Tenant independence. A club's ten functions, called one after another, in a
   database of its own ("alone") and in a database shared with other clubs
   ("among"): CLUBS capo-sized clubs (the capo fixture league) and SMALL_CLUBS
   small ones (the small fixture league). The shared databases are made by
   importing the league once and copying it with new ids in SQL
   (bench/clone_clubs.sql), the copies' rows interleaved as clubs that play the
   same weeks write them; the measured club is a copy in the middle. After one
   warm-up run each, REPEAT rounds: every function is timed in both databases
   in turn, the order alternating between rounds (interleaved, same run).
   Medians per function and of the rounds' totals, and their ratios.
2. Nightly cron. In the database of SMALL_CLUBS small clubs, the cron
   scheduler enqueues one slot (one stats job per club, as `CRON_SCHEDULE`
   does), and 1, 2 and 4 `capo-worker worker` processes (default settings:
   one job at a time, four functions at a time) run them all; the time from
   the first claim to the last completion is read from the job table.

Results go to docs/benchmarks.md between markers.

    python -m bench.tenants                       # embedded PostgreSQL in a temp dir
    BENCH_DATABASE_URL=postgresql://... python -m bench.tenants --repeat 9
    python -m bench.tenants --clubs 3 --small-clubs 5 --workers 1 --repeat 1 --no-write
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make `bench` importable
    sys.path.insert(0, str(ROOT))

from bench.latest_match import HOLD, LatestMatch  # noqa: E402
from bench.queue import Proc, process_env, running  # noqa: E402
from bench.stats import (  # noqa: E402
    DOC,
    STATE_TABLES,
    fresh_database,
    server,
    server_facts,
    write_doc,
)

from capo_worker.constants import DEFAULT_TENANT_ID  # noqa: E402
from capo_worker.cron import CronSchedule, CronScheduler  # noqa: E402
from capo_worker.db import drop_database, make_pool  # noqa: E402
from capo_worker.league.importer import import_league  # noqa: E402
from capo_worker.league.model import League, load_league_file  # noqa: E402
from capo_worker.migrate import migrate  # noqa: E402
from capo_worker.stats.registry import STATS_FUNCTIONS, dependency_order  # noqa: E402

LEAGUES = {
    "capo": ROOT / "tests/fixtures/leagues/capo.json",
    "small": ROOT / "tests/fixtures/leagues/small.json",
}
CLONE_SQL = (Path(__file__).parent / "clone_clubs.sql").read_text()
BEGIN, END = "<!-- bench/tenants.py: begin -->", "<!-- bench/tenants.py: end -->"
TOTAL_GOAL, FUNCTION_GOAL = 1.25, 1.5  # issue 14: among 40 clubs vs alone
ORDER = [f.name for f in dependency_order(STATS_FUNCTIONS)]


# --- databases --------------------------------------------------------------------------


async def club_database(url: str, league: League, clubs: int) -> str:
    """Migrate `url`, import `league` as the default tenant and copy it into clubs - 1
    more tenants; returns the tenant to measure (a copy in the middle, or the only club)."""
    await migrate(url)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await import_league(conn, league, DEFAULT_TENANT_ID)
        measured = DEFAULT_TENANT_ID
        if clubs > 1:
            async with conn.transaction():
                await conn.execute(
                    CLONE_SQL.encode(),
                    {"source": DEFAULT_TENANT_ID, "count": clubs - 1, "prefix": "club"},
                )
                for table, column in (
                    ("players", "player_id"),
                    ("matches", "match_id"),
                    ("player_matches", "player_match_id"),
                ):
                    await conn.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                        f"(SELECT max({column}) FROM {table}))".encode()
                    )
            cur = await conn.execute(
                "SELECT tenant_id::text FROM tenants WHERE name = %s", (f"club{clubs // 2}",)
            )
            row = await cur.fetchone()
            assert row is not None
            measured = str(row[0])
        # The steady state autovacuum keeps: statistics and the visibility map.
        await conn.execute("VACUUM ANALYZE")
    return measured


# --- 1. tenant independence -------------------------------------------------------------


@dataclass
class Target:
    label: str
    url: str
    tenant_id: str
    as_of: dt.date | None
    times: dict[str, list[float]] = field(default_factory=dict)  # function -> ms per round
    totals: list[float] = field(default_factory=list)  # ms per round


def call(conn: psycopg.Connection[tuple[object, ...]], target: Target, function: str) -> float:
    """One function for the target's club in its own transaction, as a job runs it; ms."""
    start = time.perf_counter()
    with conn.transaction():
        if target.as_of:
            conn.execute("SELECT set_config('capo.as_of', %s, true)", (target.as_of.isoformat(),))
        conn.execute(f"SELECT {function}(%s::uuid)".encode(), (target.tenant_id,))
    return (time.perf_counter() - start) * 1000


def side_by_side(targets: list[Target], repeat: int) -> None:
    """Warm up, then `repeat` rounds, every function timed in each target in turn.

    Each round follows a change of one match in every target's club (its latest
    match taken out or put back, bench/latest_match.py), as a nightly run
    follows a match day.
    """
    conns = [psycopg.connect(t.url, autocommit=True) for t in targets]
    latest = [LatestMatch() for _ in targets]
    try:
        pairs = list(zip(targets, conns, strict=True))
        for target, conn in pairs:
            for statement in HOLD:
                conn.execute(statement, {"tenant": target.tenant_id})
            for function in ORDER:
                call(conn, target, function)
        for round_no in range(repeat):
            for (target, conn), match in zip(pairs, latest, strict=True):
                for statement in match.toggle():
                    conn.execute(statement, {"tenant": target.tenant_id})
            order = pairs if round_no % 2 == 0 else pairs[::-1]
            round_totals = {t.label: 0.0 for t in targets}
            for function in ORDER:
                for target, conn in order:
                    ms = call(conn, target, function)
                    target.times.setdefault(function, []).append(ms)
                    round_totals[target.label] += ms
            for target in targets:
                target.totals.append(round_totals[target.label])
    finally:
        for conn in conns:
            conn.close()


@dataclass
class Comparison:
    league: str
    clubs: int
    rows: str  # what one club holds
    alone: Target
    among: Target

    def ratio(self, function: str | None = None) -> float:
        if function is None:
            return statistics.median(self.among.totals) / statistics.median(self.alone.totals)
        return statistics.median(self.among.times[function]) / statistics.median(
            self.alone.times[function]
        )

    def table(self) -> list[str]:
        lines = [
            f"**One {self.league} club ({self.rows}) alone and among {self.clubs:,} clubs**",
            "",
            f"| function | alone (ms) | among {self.clubs:,} (ms) | ratio |",
            "|---|---:|---:|---:|",
        ]
        for function in ORDER:
            a = statistics.median(self.alone.times[function])
            b = statistics.median(self.among.times[function])
            lines.append(f"| {function} | {a:.1f} | {b:.1f} | {self.ratio(function):.2f} |")
        a, b = statistics.median(self.alone.totals), statistics.median(self.among.totals)
        lines.append(f"| **total** | **{a:.0f}** | **{b:.0f}** | **{self.ratio():.2f}** |")
        return lines

    def verdict(self) -> str:
        """The ratios, against issue 14's goals when they apply (40 capo-sized clubs)."""
        worst = max(ORDER, key=self.ratio)
        goals = self.league == "capo" and self.clubs == 40
        total_goal = f" (goal at most {TOTAL_GOAL}x)" if goals else ""
        function_goal = f" (goal at most {FUNCTION_GOAL}x)" if goals else ""
        return (
            f"Total {self.ratio():.2f}x{total_goal}; the largest single function ratio "
            f"{self.ratio(worst):.2f}x, {worst}{function_goal}."
        )


def independence(
    admin_url: str, league_name: str, clubs: int, repeat: int, keep: bool
) -> Comparison:
    league = load_league_file(LEAGUES[league_name])
    names = (f"capo_bench_{league_name}_alone", f"capo_bench_{league_name}_{clubs}")
    urls = [fresh_database(admin_url, n) for n in names]
    try:
        alone_tenant = asyncio.run(club_database(urls[0], league, 1))
        among_tenant = asyncio.run(club_database(urls[1], league, clubs))
        print(f"{league_name}: {clubs} clubs loaded, measuring...", file=sys.stderr, flush=True)
        alone = Target("alone", urls[0], alone_tenant, league.as_of)
        among = Target("among", urls[1], among_tenant, league.as_of)
        side_by_side([alone, among], repeat)
    finally:
        if not keep:
            for name in names:
                drop_database(admin_url, name)
    rows = (
        f"{len(league.players):,} players, {len(league.matches):,} matches, "
        f"{len(league.player_matches):,} player_matches"
    )
    return Comparison(league_name, clubs, rows, alone, among)


# --- 2. the nightly cron ----------------------------------------------------------------


@dataclass
class CronRun:
    workers: int
    jobs: int
    failed: int
    seconds: float  # first claim to last completion
    job_ms: float  # median of the jobs' stats time


async def enqueue_slot(url: str, slot: dt.datetime) -> int:
    """What the cron scheduler does at `slot`: one stats job per club."""
    pool = make_pool(url, max_size=2, name="bench-cron")
    await pool.open(wait=True)
    try:
        scheduler = CronScheduler(
            pool,
            CronSchedule("0 3 * * *", ZoneInfo("UTC")),
            clock=lambda: slot + dt.timedelta(minutes=1),
        )
        return len(await scheduler.tick())
    finally:
        await pool.close()


def cron_run(url: str, workers: int, slot: dt.datetime, workdir: Path, timeout: float) -> CronRun:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DELETE FROM background_job_requests")
        conn.execute("DELETE FROM background_job_status")
        # Every run from scratch, whatever ran before it (as the reference's nights).
        for (table_name,) in conn.execute(STATE_TABLES).fetchall():
            conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table_name)))
    jobs = asyncio.run(enqueue_slot(url, slot))
    env = process_env(
        DATABASE_URL=url, CRON_SCHEDULE="off", MIGRATE_ON_START="false", LOG_LEVEL="WARNING"
    )
    procs = [
        Proc(
            [sys.executable, "-m", "capo_worker", "worker"],
            {**env, "WORKER_ID": f"bench-cron-{i}"},
            workdir / f"cron-{workers}-{i}.log",
        )
        for i in range(workers)
    ]
    with running(procs), psycopg.connect(url, autocommit=True) as conn:
        deadline = time.monotonic() + timeout
        while True:
            row = conn.execute(
                "SELECT count(*) FROM background_job_status "
                "WHERE status NOT IN ('completed', 'failed')"
            ).fetchone()
            if row is not None and row[0] == 0:
                break
            for proc in procs:
                proc.check_alive()
            if time.monotonic() > deadline:
                raise SystemExit(f"cron with {workers} worker(s): not done in {timeout:.0f} s")
            time.sleep(0.2)
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE status = 'failed'), "
            "extract(epoch FROM max(completed_at) - min(started_at)), "
            "percentile_cont(0.5) WITHIN GROUP (ORDER BY (results->>'stats_duration_ms')::float) "
            "FROM background_job_status"
        ).fetchone()
    assert row is not None
    return CronRun(workers, jobs, int(row[0]), float(row[1]), float(row[2] or 0))


def cron_table(runs: list[CronRun], clubs: int) -> list[str]:
    lines = [
        f"**Nightly cron, {clubs:,} small clubs** (one slot: one stats job per club)",
        "",
        "| worker processes | jobs | failed | first claim to last completion (s) | "
        "jobs per second | a job's stats (median ms) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        lines.append(
            f"| {r.workers} | {r.jobs:,} | {r.failed} | {r.seconds:.1f} | "
            f"{r.jobs / max(r.seconds, 0.001):.1f} | {r.job_ms:.0f} |"
        )
    return lines


# --- report -----------------------------------------------------------------------------


def section(
    comparisons: list[Comparison], cron: list[CronRun], args: argparse.Namespace, facts: str
) -> str:
    lines = [
        BEGIN,
        "## Many clubs in one database",
        "",
        f"Measured {dt.date.today().isoformat()} with `python -m bench.tenants --clubs "
        f"{args.clubs} --small-clubs {args.small_clubs} --repeat {args.repeat} --workers "
        f"{args.workers}`: {facts}. Each shared database holds the league imported once and "
        "copied with new ids (bench/clone_clubs.sql), the copies' rows interleaved in match "
        "order as clubs playing the same weeks write them, then VACUUM ANALYZE; the measured "
        "club is a copy in the middle. After a warm-up, every round times each function in "
        "the club's own database and in the shared one in turn (the order alternating "
        f"between rounds); medians of {args.repeat} rounds, the total is the median of the "
        "rounds' totals.",
        "",
    ]
    for c in comparisons:
        lines += [*c.table(), "", c.verdict(), ""]
    if cron:
        lines += [
            *cron_table(cron, args.small_clubs),
            "",
            "Workers with default settings (`WORKER_CONCURRENCY=1`, `STATS_PARALLELISM=4`), "
            "no cache invalidation URL, one PostgreSQL on the same 2 cores as the workers.",
            "",
        ]
    lines.append(END)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> str:
    """Run the benchmark; returns the section written (or that would be) into the docs."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clubs", type=int, default=40, help="capo-sized clubs")
    parser.add_argument("--small-clubs", type=int, default=1000, help="small clubs")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--workers", default="1,2,4", help="worker processes, comma-separated")
    parser.add_argument("--cron-timeout", type=float, default=1800.0, help="seconds per run")
    parser.add_argument("--no-cron", action="store_true", help="skip the nightly cron runs")
    parser.add_argument("--no-write", action="store_true", help="do not update the docs")
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    parser.add_argument("--doc", type=Path, default=DOC, help="the file to write into")
    args = parser.parse_args(argv)
    worker_counts = [int(w) for w in args.workers.split(",") if w.strip()]

    load = os.getloadavg()[0]
    with server() as admin_url:
        version, cpu = server_facts(admin_url)
        where = "BENCH_DATABASE_URL" if os.environ.get("BENCH_DATABASE_URL") else "embedded"
        facts = (
            f"{os.cpu_count()} cores ({cpu}), PostgreSQL {version} ({where}), Python "
            f"{platform.python_version()}, load average {load:.1f} at the start"
        )
        comparisons = []
        for league_name, clubs in (("capo", args.clubs), ("small", args.small_clubs)):
            comparison = independence(
                admin_url, league_name, clubs, args.repeat, keep=args.keep or not args.no_cron
            )
            comparisons.append(comparison)
            print("\n".join([*comparison.table(), "", comparison.verdict()]) + "\n", flush=True)
        drop_database(admin_url, f"capo_bench_capo_{args.clubs}")
        drop_database(admin_url, "capo_bench_capo_alone")
        drop_database(admin_url, "capo_bench_small_alone")
        cron: list[CronRun] = []
        if not args.no_cron:
            name = f"capo_bench_small_{args.small_clubs}"
            url = comparisons[-1].among.url
            try:
                with tempfile.TemporaryDirectory(prefix="capo-bench-tenants-") as workdir:
                    slot = dt.datetime(2026, 11, 1, 3, tzinfo=dt.UTC)
                    for i, workers in enumerate(worker_counts):
                        run = cron_run(
                            url,
                            workers,
                            slot + dt.timedelta(days=i),
                            Path(workdir),
                            args.cron_timeout,
                        )
                        cron.append(run)
                        print(f"cron, {workers} worker(s): {run}", file=sys.stderr, flush=True)
            finally:
                if not args.keep:
                    drop_database(admin_url, name)
            print("\n".join(cron_table(cron, args.small_clubs)) + "\n", flush=True)
        elif not args.keep:
            drop_database(admin_url, f"capo_bench_small_{args.small_clubs}")
    text = section(comparisons, cron, args, facts)
    if not args.no_write:
        write_doc(text, BEGIN, END, args.doc)
        print(f"Wrote the results into {args.doc}.", file=sys.stderr)
    return text


if __name__ == "__main__":
    main()
