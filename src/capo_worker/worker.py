"""The worker loop: wake-ups, claiming, concurrency, leases, rescue, shutdown.

One asyncio task claims jobs whenever a slot is free and something may be
waiting: a NOTIFY from the job table, a finished job, or the poll interval
(the fallback, and the only path when LISTEN is unavailable). Each claimed job
runs in its own task; a heartbeat task extends the leases of running jobs,
and every worker periodically rescues jobs whose lease expired (ending the
database sessions the lost attempts left behind). Running jobs are keyed by
their attempt (job id and attempt number), and every write for a job is
fenced by it, so an attempt whose lease was taken away, even while this
worker runs the same job again, records nothing. On stop, the worker claims
nothing more, lets running jobs finish within the grace period and gives the
rest back to the queue. Database errors never end the loop: every database
step is retried with backoff, except an outcome the database refuses for good
(too large, a constraint), which is recorded as a failed attempt instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from capo_worker import metrics, queue
from capo_worker.backoff import Backoff
from capo_worker.config import Settings
from capo_worker.db import client_keepalives
from capo_worker.handlers import HandlerRegistry, JobContext, JobOutcome
from capo_worker.queue import Attempt, Job

if TYPE_CHECKING:
    from capo_worker.schema_gate import SchemaGate

log = logging.getLogger("capo_worker.worker")

NOTIFY_CHANNEL = "capo_jobs"
DB_ERRORS = (psycopg.Error, OSError)
# SQLSTATE classes of errors that the same statement would meet again: data
# exceptions, constraint violations, program limits (a value too large),
# syntax or access rules, features not supported.
PERMANENT_SQLSTATE_CLASSES = ("22", "23", "54", "42", "0A")
REFUSAL_REASON_LIMIT = 500


@dataclass
class PeriodicTask:
    """Maintenance every worker runs on a timer (rescue, prune, cron)."""

    name: str
    interval_seconds: float
    run: Callable[[], Awaitable[None]]


class CompletionBatcher:
    """Records successful outcomes, many jobs per statement.

    A job's task waits here until its completion is recorded. Whatever
    finished while one statement ran goes into the next: one job per
    statement when the worker is quiet, a batch under load, and no added
    wait either way. Per-job results and the fence (job, worker, attempt) are
    those of `queue.complete`. A batch the database refuses for good is tried
    again one job at a time, so one unstorable outcome fails only its own job.
    """

    def __init__(self, pool: AsyncConnectionPool, worker_id: str) -> None:
        self.pool = pool
        self.worker_id = worker_id
        self._pending: dict[Attempt, tuple[dict[str, Any], asyncio.Future[bool]]] = {}
        self._flusher: asyncio.Task[None] | None = None

    async def complete(self, attempt: Attempt, results: dict[str, Any]) -> bool:
        """True once the job is recorded completed; False if the attempt is no longer current."""
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending[attempt] = (results, done)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="complete-jobs")
        return await done  # a database error is raised here, for the caller to handle

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, {}
            try:
                await self._record(batch)
            except asyncio.CancelledError:
                for _, done in [*batch.values(), *self._pending.values()]:
                    done.cancel()
                raise

    async def _record(
        self, batch: dict[Attempt, tuple[dict[str, Any], asyncio.Future[bool]]]
    ) -> None:
        try:
            async with self.pool.connection() as conn:
                ours = await queue.complete_many(
                    conn,
                    worker_id=self.worker_id,
                    results={attempt: results for attempt, (results, _) in batch.items()},
                )
        except Exception as exc:
            if len(batch) > 1 and is_permanent(exc):
                for attempt, entry in batch.items():
                    await self._record({attempt: entry})
                return
            for _, done in batch.values():
                if not done.done():
                    done.set_exception(exc)
            return
        for attempt, (_, done) in batch.items():
            if not done.done():  # cancelled meanwhile: shutdown or a lost lease
                done.set_result(attempt in ours)


class Worker:
    def __init__(
        self,
        settings: Settings,
        pool: AsyncConnectionPool,
        listen_url: str,
        registry: HandlerRegistry,
        *,
        periodic: list[PeriodicTask] | None = None,
        schema_gate: SchemaGate | None = None,
    ) -> None:
        self.settings = settings
        self.schema_gate = schema_gate  # claims only while the schema is this build's
        self.pool = pool
        self.listen_url = listen_url
        self.registry = registry
        self.worker_id = settings.worker_id
        self.queue_name = settings.queue_name
        self.lease_seconds = float(settings.job_lease_seconds)
        self.poll_seconds = settings.poll_interval_ms / 1000
        self.periodic = [
            PeriodicTask("rescue", max(1.0, self.lease_seconds / 4), self.rescue_once),
            *(periodic or []),
        ]
        self.running: dict[Attempt, tuple[asyncio.Task[None], JobContext]] = {}
        self._completions = CompletionBatcher(pool, self.worker_id)
        self.listening = False
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()

    # --- public ----------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set, then shut down within the grace period."""
        await self._with_db_retry("register worker", self._register)
        log.info(
            "Worker %s started (queue %s, concurrency %d, job types: %s)",
            self.worker_id,
            self.queue_name,
            self.settings.worker_concurrency,
            ", ".join(self.registry.job_types),
        )
        background = [
            asyncio.create_task(self._listen(), name="listen"),
            asyncio.create_task(self._heartbeat_loop(), name="heartbeat"),
            *(
                asyncio.create_task(self._periodic_loop(p), name=f"periodic-{p.name}")
                for p in self.periodic
            ),
        ]
        stop_waiter = asyncio.create_task(stop.wait())
        try:
            await self._claim_loop(stop_waiter)
        finally:
            self._stopping.set()
            await self._shutdown()
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            stop_waiter.cancel()
            with contextlib.suppress(*DB_ERRORS):
                async with self.pool.connection() as conn:
                    await queue.stop_worker(conn, worker_id=self.worker_id)
            log.info("Worker %s stopped", self.worker_id)

    async def rescue_once(self) -> None:
        async with self.pool.connection() as conn:
            rescued = await queue.rescue_expired(conn, lease_seconds=self.lease_seconds)
            for job in rescued:
                # One job at a time, so each log line says what its lost attempt left behind.
                ended = await queue.terminate_attempts(conn, [job.attempt])
                log.warning(
                    "Rescued job %s from lost worker %s: now %s; terminated %d session(s) "
                    "of its lost attempt",
                    job.id,
                    job.lost_worker or "unknown",
                    job.status,
                    ended.terminated,
                    extra={"job_id": job.id},
                )
                for reason in ended.refused:
                    log.warning(
                        "Could not end a session of the lost attempt of job %s (%s); it ends "
                        "when it has been idle in its transaction for JOB_LEASE_SECONDS. Fix: "
                        "run the workers as one database role, or grant pg_signal_backend",
                        job.id,
                        reason,
                        extra={"job_id": job.id},
                    )
        if rescued:
            self._wake.set()

    async def _with_db_retry(self, what: str, step: Callable[[], Awaitable[None]]) -> None:
        backoff = Backoff()
        while True:
            try:
                await step()
                return
            except DB_ERRORS as exc:
                delay = backoff.next()
                log.error("%s during %s; retrying in %.1fs", _db_problem(exc), what, delay)
                await asyncio.sleep(delay)

    # --- claiming ----------------------------------------------------------------

    async def _register(self) -> None:
        async with self.pool.connection() as conn:
            await queue.register_worker(
                conn,
                worker_id=self.worker_id,
                queue_name=self.queue_name,
                hostname=socket.gethostname(),
                pid=os.getpid(),
                concurrency=self.settings.worker_concurrency,
            )

    async def _claim_loop(self, stop_waiter: asyncio.Task[Any]) -> None:
        backoff = Backoff()
        while not stop_waiter.done():
            free = self.settings.worker_concurrency - len(self.running)
            claimed: list[Job] = []
            if free > 0:
                self._wake.clear()
                try:
                    async with self.pool.connection() as conn:
                        if self.schema_gate is None or await self.schema_gate.may_claim(conn):
                            claimed = await queue.claim(
                                conn,
                                worker_id=self.worker_id,
                                job_types=self.registry.job_types,
                                lease_seconds=self.lease_seconds,
                                limit=free,
                                queue_name=self.queue_name,
                            )
                    backoff.reset()
                except DB_ERRORS as exc:
                    delay = backoff.next()
                    log.error("%s while claiming; retrying in %.1fs", _db_problem(exc), delay)
                    await _sleep_or_stop(stop_waiter, delay)
                    continue
                for job in claimed:
                    self._start(job)
                if len(claimed) == free:
                    continue  # there may be more: claim again right away
            wake = asyncio.create_task(self._wake.wait())
            await asyncio.wait(
                {wake, stop_waiter}, timeout=self.poll_seconds, return_when=asyncio.FIRST_COMPLETED
            )
            wake.cancel()

    def _start(self, job: Job) -> None:
        ctx = JobContext(self.pool, self.settings, self.worker_id, log)
        log.info(
            "Received job %s (%s, trigger %s, attempt %d/%d)",
            job.id,
            job.job_type,
            job.trigger or "none",
            job.attempts,
            job.max_attempts,
            extra={"job_id": job.id},
        )
        task = asyncio.create_task(self._process(job, ctx), name=f"job-{job.id}")
        attempt = job.attempt
        self.running[attempt] = (task, ctx)
        task.add_done_callback(lambda _: self._job_done(attempt))

    def _job_done(self, attempt: Attempt) -> None:
        self.running.pop(attempt, None)
        self._wake.set()  # a slot is free

    # --- running a job -------------------------------------------------------------

    async def _process(self, job: Job, ctx: JobContext) -> None:
        handler = self.registry.get(job.job_type)
        started = time.perf_counter()
        log.info("Processing job %s", job.id, extra={"job_id": job.id})
        if handler is None:  # cannot happen: we claim only types we handle
            outcome = JobOutcome(False, error=f"no handler for job type {job.job_type!r}")
        else:
            try:
                outcome = await handler(job, ctx)
            except asyncio.CancelledError:
                raise  # shutdown or lost lease: the job is released or rescued
            except Exception as exc:
                log.exception("Job %s raised", job.id, extra={"job_id": job.id})
                outcome = JobOutcome(False, error=_one_line(exc) or type(exc).__name__)
        elapsed_ms = int((time.perf_counter() - started) * 1000)
        metrics.JOB_DURATION.labels(job.job_type, "ok" if outcome.ok else "failed").observe(
            elapsed_ms / 1000
        )
        results = {
            **outcome.results,
            "worker_id": self.worker_id,
            "attempt": job.attempts,
            "duration_ms": elapsed_ms,
        }
        await self._finish(job, outcome, results, elapsed_ms)

    async def _finish(
        self, job: Job, outcome: JobOutcome, results: dict[str, Any], elapsed_ms: int
    ) -> None:
        """Record the outcome; retried until it lands or the attempt is no longer current.

        An outcome the database refuses for good (too large, a constraint) is
        recorded instead as a failed attempt saying why; if even that is
        refused, the job is left to the rescue when its lease expires.
        """
        backoff = Backoff()
        refused = False
        while True:
            try:
                await self._record(job, outcome, results, elapsed_ms)
                return
            except DB_ERRORS as exc:
                if is_permanent(exc):
                    if refused:
                        log.error(
                            "Could not record even the failure of job %s (%s); its lease will "
                            "expire and the job be rescued",
                            job.id,
                            _one_line(exc),
                            extra={"job_id": job.id},
                        )
                        return
                    refused = True
                    reason = queue.bounded_text(_one_line(exc), REFUSAL_REASON_LIMIT)
                    log.error(
                        "The database refused the outcome of job %s (%s); recording the "
                        "attempt as failed",
                        job.id,
                        reason,
                        extra={"job_id": job.id},
                    )
                    outcome = JobOutcome(False, error=f"Could not record the outcome: {reason}")
                    results = {k: results[k] for k in ("worker_id", "attempt", "duration_ms")}
                    continue
                delay = backoff.next()
                log.error(
                    "Could not record the outcome of job %s (%s); retrying in %.1fs",
                    job.id,
                    _one_line(exc),
                    delay,
                    extra={"job_id": job.id},
                )
                await asyncio.sleep(delay)

    async def _record(
        self, job: Job, outcome: JobOutcome, results: dict[str, Any], elapsed_ms: int
    ) -> None:
        if outcome.ok:
            if await self._completions.complete(job.attempt, results):
                log.info(
                    "Job %s completed in %d ms",
                    job.id,
                    elapsed_ms,
                    extra={"job_id": job.id, "duration_ms": elapsed_ms},
                )
            else:
                self._log_lost(job)
            return
        async with self.pool.connection() as conn:
            failed = await queue.fail(
                conn,
                attempt=job.attempt,
                worker_id=self.worker_id,
                error=outcome.error or "failed",
                results=results,
                retryable=outcome.retryable,
                backoff_seconds=self.settings.retry_backoff_seconds,
            )
        if failed is None:
            self._log_lost(job)
        elif failed.status == "queued":
            log.warning(
                "Job %s failed after %d ms (attempt %d/%d), retrying at %s: %s",
                job.id,
                elapsed_ms,
                job.attempts,
                job.max_attempts,
                failed.run_after.isoformat() if failed.run_after else "now",
                queue.bounded_text(outcome.error or "failed", REFUSAL_REASON_LIMIT),
                extra={"job_id": job.id},
            )
        else:
            log.error(
                "Job %s failed after %d ms (attempt %d/%d): %s",
                job.id,
                elapsed_ms,
                job.attempts,
                job.max_attempts,
                queue.bounded_text(outcome.error or "failed", REFUSAL_REASON_LIMIT),
                extra={"job_id": job.id},
            )

    def _log_lost(self, job: Job) -> None:
        log.warning(
            "Job %s is no longer ours (attempt %d lost its lease and was rescued); outcome "
            "not recorded",
            job.id,
            job.attempts,
            extra={"job_id": job.id},
        )

    # --- leases, heartbeats, maintenance ----------------------------------------------

    async def _heartbeat_loop(self) -> None:
        interval = max(0.5, self.lease_seconds / 3)
        while True:
            await asyncio.sleep(interval)
            attempts = list(self.running)
            try:
                # An answer later than the lease is worthless: the lease is gone by then.
                async with asyncio.timeout(self.lease_seconds), self.pool.connection() as conn:
                    held = await queue.heartbeat(
                        conn,
                        attempts=attempts,
                        worker_id=self.worker_id,
                        lease_seconds=self.lease_seconds,
                    )
                    await queue.touch_worker(conn, worker_id=self.worker_id)
            except DB_ERRORS as exc:
                log.error("Heartbeat failed: %s", _one_line(exc))
                continue
            except TimeoutError:
                log.error("Heartbeat got no answer within %.0fs", self.lease_seconds)
                continue
            for attempt in attempts:
                entry = self.running.get(attempt)
                if attempt not in held and entry is not None:
                    task, ctx = entry
                    log.warning(
                        "Lost the lease of job %s (attempt %d); stopping it",
                        attempt.job_id,
                        attempt.number,
                        extra={"job_id": attempt.job_id},
                    )
                    ctx.lease_lost.set()
                    task.cancel()

    async def _periodic_loop(self, task: PeriodicTask) -> None:
        # Start at a random offset so many workers don't all run at once.
        await asyncio.sleep(random.uniform(0, task.interval_seconds))
        while True:
            try:
                if self.schema_gate is None or self.schema_gate.allows_work:
                    await task.run()
            except DB_ERRORS as exc:
                log.error("%s failed: %s", task.name, _one_line(exc))
            except Exception:
                log.exception("%s failed", task.name)
            await asyncio.sleep(task.interval_seconds * random.uniform(0.9, 1.1))

    # --- LISTEN ----------------------------------------------------------------------

    async def _listen(self) -> None:
        backoff = Backoff(first=1.0)
        warned_fallback = False
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.listen_url,
                    autocommit=True,
                    **client_keepalives(self.listen_url, self.lease_seconds),
                ) as conn:
                    await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    if not await self._listen_works(conn):
                        if not warned_fallback:
                            log.warning(
                                "LISTEN/NOTIFY does not reach this worker (a connection pooler "
                                "in transaction mode?); polling every %d ms instead. Use a "
                                "session-mode connection string to get instant pickup.",
                                self.settings.poll_interval_ms,
                            )
                            warned_fallback = True
                        return  # polling only
                    self.listening = True
                    backoff.reset()
                    log.info("Listening on queue %s", self.queue_name)
                    self._wake.set()  # catch up on anything enqueued while we were deaf
                    while True:
                        async for note in conn.notifies(timeout=30.0):
                            if note.payload == self.queue_name:
                                self._wake.set()
                        await conn.execute("SELECT 1")  # a silent minute: is the link alive?
            except asyncio.CancelledError:
                raise
            except DB_ERRORS as exc:
                delay = backoff.next()
                if self.listening:
                    log.warning(
                        "Lost the LISTEN connection (%s); polling until it is back", _one_line(exc)
                    )
                self.listening = False
                await asyncio.sleep(delay)

    async def _listen_works(self, conn: psycopg.AsyncConnection[Any]) -> bool:
        """Send ourselves a notification and see whether it arrives."""
        probe = f"probe-{self.worker_id}-{random.random()}"
        async with self.pool.connection() as other:
            await other.execute("SELECT pg_notify(%s, %s)", (NOTIFY_CHANNEL, probe))
        async for note in conn.notifies(timeout=5.0):
            if note.payload == probe:
                return True
        return False

    # --- shutdown -------------------------------------------------------------------

    async def _shutdown(self) -> None:
        if not self.running:
            return
        grace = self.settings.shutdown_grace_seconds
        # Keep a moment at the end of the grace period to give jobs back.
        wait_for = max(0.0, grace - min(2.0, grace / 5))
        log.info("Stopping: waiting up to %.0fs for %d running job(s)", wait_for, len(self.running))
        tasks = [task for task, _ in self.running.values()]
        _, pending = await asyncio.wait(tasks, timeout=wait_for)
        if not pending:
            return
        unfinished = [attempt for attempt, (task, _) in self.running.items() if task in pending]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        try:
            async with self.pool.connection(timeout=2.0) as conn:
                released = await queue.release(conn, attempts=unfinished, worker_id=self.worker_id)
            for attempt in released:
                log.warning(
                    "Released job %s back to the queue",
                    attempt.job_id,
                    extra={"job_id": attempt.job_id},
                )
        except DB_ERRORS as exc:
            log.error(
                "Could not release %s (%s); their leases will expire and they will be rescued",
                ", ".join(a.job_id for a in unfinished),
                _one_line(exc),
            )


async def _sleep_or_stop(stop_waiter: asyncio.Task[Any], seconds: float) -> None:
    await asyncio.wait({stop_waiter}, timeout=seconds)


def is_permanent(exc: BaseException) -> bool:
    """A database error that the same statement would meet again: retrying cannot help."""
    sqlstate = getattr(exc, "sqlstate", None)
    return isinstance(sqlstate, str) and sqlstate[:2] in PERMANENT_SQLSTATE_CLASSES


def _db_problem(exc: BaseException) -> str:
    """'Database unavailable (...)' for connection trouble, 'Database error (...)' otherwise."""
    lost = isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError, OSError))
    return f"Database {'unavailable' if lost else 'error'} ({_one_line(exc)})"


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
