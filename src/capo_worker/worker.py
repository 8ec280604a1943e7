"""The worker loop: wake-ups, claiming, concurrency, leases, rescue, shutdown.

One asyncio task claims jobs whenever a slot is free and something may be
waiting: a NOTIFY from the job table, a finished job, or the poll interval
(the fallback, and the only path when LISTEN is unavailable). Each claimed job
runs in its own task. A job holds a concurrency slot while its handler runs;
when the handler succeeds, the slot is freed at once and the completion is
written in the background, many jobs per statement (completions.py), with at
most RECORDING_PER_SLOT x concurrency completions waiting before jobs keep
their slots until recorded. A heartbeat task extends the leases of every
attempt this worker holds, running or being recorded; an attempt whose lease
could not be renewed is stopped a moment before the lease runs out
(`_lease_watch`). Every worker periodically rescues jobs whose lease expired
(ending the database sessions the lost attempts left behind). Attempts are
keyed by job id and attempt number, and every write for a job is fenced by it,
so an attempt whose lease was taken away, even while this worker runs the same
job again, records nothing. Claims and completions each use a long-lived
session of their own (db.DedicatedConnection); everything else uses the pool.
On stop, the worker claims nothing more, lets running jobs finish within the
grace period, gives the rest back to the queue and waits for the completions
still being written. Database errors never end the loop: every database step
is retried with backoff, except an outcome the database refuses for good (too
large, a constraint), which is recorded as a failed attempt instead.

Per-job lines (received, started, completed) are DEBUG: at INFO a worker
says every minute how many jobs it completed; failures, retries and lost
leases are logged per job at WARNING and ERROR.

Read `Worker.run` and `_claim_loop` first: they are the loop. The SQL is in
queue.py (`claim`, `heartbeat`, `complete_many`, `fail`, `release`,
`rescue_expired`); LISTEN is listener.py; batched completions completions.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from psycopg_pool import AsyncConnectionPool

from capo_worker import metrics, queue
from capo_worker.backoff import Backoff
from capo_worker.completions import CompletionBatcher
from capo_worker.config import Settings
from capo_worker.db import DedicatedConnection
from capo_worker.db_errors import DB_ERRORS, db_problem, is_permanent
from capo_worker.handlers import HandlerRegistry, Job, JobContext, JobOutcome
from capo_worker.job_row import Attempt
from capo_worker.listener import JobNotifications
from capo_worker.results import with_attempt
from capo_worker.schema_gate import SchemaGate
from capo_worker.text import bounded_text, one_line

log = logging.getLogger("capo_worker.worker")

REFUSAL_REASON_LIMIT = 500
# Completions waiting to be written, per concurrency slot, beyond which a
# succeeded job keeps its slot until it is recorded (the database is slow).
RECORDING_PER_SLOT = 4
SUMMARY_SECONDS = 60.0
# While jobs take less than this, a claim also takes PREFETCH_PER_SLOT jobs per
# slot beyond the free slots, started as slots free up: fewer, larger claims
# where a claim costs as much as the jobs. Longer jobs are claimed only for
# free slots, so a busy worker never keeps them from an idle one.
PREFETCH_BELOW_SECONDS = 0.01
PREFETCH_PER_SLOT = 1


@dataclass
class PeriodicTask:
    """Maintenance every worker runs on a timer (rescue, prune, cron)."""

    name: str
    interval_seconds: float
    run: Callable[[], Awaitable[None]]


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
            PeriodicTask("summary", SUMMARY_SECONDS, self._log_summary),
            *(periodic or []),
        ]
        # Handlers running, each holding a slot; then succeeded jobs whose
        # completion is being written, holding none. The same task throughout.
        self.running: dict[Attempt, asyncio.Task[None]] = {}
        self.recording: dict[Attempt, asyncio.Task[None]] = {}
        # Claimed beyond the free slots (quick jobs), in claim order, waiting for a slot.
        self.prefetched: dict[Attempt, Job] = {}
        # When the statement that last set each held attempt's lease was sent
        # (claim or heartbeat; time.monotonic()): the lease lasts at least until
        # then + JOB_LEASE_SECONDS.
        self._renewed: dict[Attempt, float] = {}
        self._quick_jobs = False
        self._recording_limit = RECORDING_PER_SLOT * settings.worker_concurrency
        # What handlers get: the same for every job, so made once.
        self._job_context = JobContext(pool, settings, self.worker_id, log)
        self._claim_session = DedicatedConnection(
            listen_url, lease_seconds=self.lease_seconds, name="capo-worker claims"
        )
        self._completion_session = DedicatedConnection(
            listen_url, lease_seconds=self.lease_seconds, name="capo-worker completions"
        )
        self._completions = CompletionBatcher(self._completion_session, self.worker_id)
        self._completed: Counter[str] = Counter()  # job type -> completed since the last summary
        self._summary_since = time.monotonic()
        self._wake = asyncio.Event()
        self.notifications = JobNotifications(
            listen_url,
            pool,
            queue_name=self.queue_name,
            wake=self._wake,
            lease_seconds=self.lease_seconds,
            poll_interval_ms=settings.poll_interval_ms,
        )

    @property
    def listening(self) -> bool:
        """Notifications arrive (else the worker only polls)."""
        return self.notifications.listening

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
            asyncio.create_task(self.notifications.run(), name="listen"),
            asyncio.create_task(self._heartbeat_loop(), name="heartbeat"),
            asyncio.create_task(self._lease_watch(), name="lease-watch"),
            *(
                asyncio.create_task(self._periodic_loop(p), name=f"periodic-{p.name}")
                for p in self.periodic
            ),
        ]
        stop_waiter = asyncio.create_task(stop.wait())
        try:
            await self._claim_loop(stop_waiter)
        finally:
            await self._shutdown()
            await self._claim_session.close()
            await self._completion_session.close()
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            stop_waiter.cancel()
            with contextlib.suppress(*DB_ERRORS):
                async with self.pool.connection() as conn:
                    await queue.stop_worker(conn, worker_id=self.worker_id)
            await self._log_summary()
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
                log.error("%s during %s; retrying in %.1fs", db_problem(exc), what, delay)
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
            stale = self._start_prefetched()
            if stale:
                await self._release(stale)
            free = self.settings.worker_concurrency - len(self.running)
            claimed: list[Job] = []
            limit = free + self._prefetch_size() if free > 0 else 0
            if free > 0:
                self._wake.clear()
                sent = time.monotonic()
                try:
                    async with self._claim_session.connection() as conn:
                        if self.schema_gate is None or await self.schema_gate.may_claim(conn):
                            claimed = await queue.claim(
                                conn,
                                worker_id=self.worker_id,
                                job_types=self.registry.job_types,
                                lease_seconds=self.lease_seconds,
                                limit=limit,
                                queue_name=self.queue_name,
                            )
                    backoff.reset()
                except DB_ERRORS as exc:
                    delay = backoff.next()
                    log.error("%s while claiming; retrying in %.1fs", db_problem(exc), delay)
                    await _sleep_or_stop(stop_waiter, delay)
                    continue
                for job in claimed:
                    self._renewed[job.attempt] = sent
                    if len(self.running) < self.settings.worker_concurrency:
                        self._start(job)
                    else:
                        self.prefetched[job.attempt] = job
                if len(claimed) == limit:
                    continue  # there may be more: claim again right away
            wake = asyncio.create_task(self._wake.wait())
            await asyncio.wait(
                {wake, stop_waiter}, timeout=self.poll_seconds, return_when=asyncio.FIRST_COMPLETED
            )
            wake.cancel()

    def _prefetch_size(self) -> int:
        """Jobs to claim beyond the free slots: only while jobs are quick (see PREFETCH_BELOW)."""
        return self.settings.worker_concurrency * PREFETCH_PER_SLOT if self._quick_jobs else 0

    def _start_prefetched(self) -> list[Attempt]:
        """Start prefetched jobs in free slots; return those that waited too long to start.

        A prefetched job normally waits milliseconds. One whose lease was last
        renewed half a lease ago (heartbeats failing, the database away) is
        given back instead: its lease may be running out, and a job must never
        start on a lease another worker may already have taken over.
        """
        stale = []
        while self.prefetched and len(self.running) < self.settings.worker_concurrency:
            attempt = next(iter(self.prefetched))
            job = self.prefetched.pop(attempt)
            if time.monotonic() - self._renewed.get(attempt, 0.0) > self.lease_seconds / 2:
                self._renewed.pop(attempt, None)
                stale.append(attempt)
            else:
                self._start(job)
        return stale

    def _start(self, job: Job) -> None:
        if log.isEnabledFor(logging.DEBUG):  # skips reading the payload at INFO
            log.debug(
                "Received job %s (%s, trigger %s, attempt %d/%d)",
                job.id,
                job.job_type,
                job.trigger or "none",
                job.attempts,
                job.max_attempts,
                extra={"job_id": job.id},
            )
        task = asyncio.create_task(self._process(job, self._job_context), name=f"job-{job.id}")
        attempt = job.attempt
        self.running[attempt] = task
        task.add_done_callback(lambda _: self._job_done(attempt))

    def _job_done(self, attempt: Attempt) -> None:
        if self.running.pop(attempt, None) is not None:
            self._wake.set()  # a slot is free
        self.recording.pop(attempt, None)
        self._renewed.pop(attempt, None)

    def _free_slot(self, attempt: Attempt) -> None:
        """The handler succeeded: its slot goes to the next job while the completion is written."""
        task = self.running.pop(attempt, None)
        if task is not None:
            self.recording[attempt] = task
            self._wake.set()

    @property
    def held(self) -> list[Attempt]:
        """Every attempt this worker holds a lease for: prefetched, running, being recorded."""
        return [*self.prefetched, *self.running, *self.recording]

    # --- running a job -------------------------------------------------------------

    async def _process(self, job: Job, ctx: JobContext) -> None:
        handler = self.registry.get(job.job_type)
        started = time.perf_counter()
        log.debug("Processing job %s", job.id, extra={"job_id": job.id})
        if handler is None:  # cannot happen: we claim only types we handle
            outcome = JobOutcome(False, error=f"no handler for job type {job.job_type!r}")
        else:
            try:
                outcome = await handler(job, ctx)
            except asyncio.CancelledError:
                raise  # shutdown or lost lease: the job is released or rescued
            except Exception as exc:
                log.exception("Job %s raised", job.id, extra={"job_id": job.id})
                outcome = JobOutcome(False, error=one_line(exc) or type(exc).__name__)
        elapsed = time.perf_counter() - started
        # Only successes tell how long jobs take: a job failing fast (the
        # database away) says nothing about the next ones.
        self._quick_jobs = outcome.ok and elapsed < PREFETCH_BELOW_SECONDS
        elapsed_ms = int(elapsed * 1000)
        metrics.job_duration(job.job_type, "ok" if outcome.ok else "failed").observe(elapsed)
        results = with_attempt(
            outcome.results, worker_id=self.worker_id, attempt=job.attempts, duration_ms=elapsed_ms
        )
        if outcome.ok and len(self.recording) < self._recording_limit:
            self._free_slot(job.attempt)
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
                            one_line(exc),
                            extra={"job_id": job.id},
                        )
                        return
                    refused = True
                    reason = bounded_text(one_line(exc), REFUSAL_REASON_LIMIT)
                    log.error(
                        "The database refused the outcome of job %s (%s); recording the "
                        "attempt as failed",
                        job.id,
                        reason,
                        extra={"job_id": job.id},
                    )
                    outcome = JobOutcome(False, error=f"Could not record the outcome: {reason}")
                    results = with_attempt(
                        {}, worker_id=self.worker_id, attempt=job.attempts, duration_ms=elapsed_ms
                    )
                    continue
                delay = backoff.next()
                log.error(
                    "Could not record the outcome of job %s (%s); retrying in %.1fs",
                    job.id,
                    one_line(exc),
                    delay,
                    extra={"job_id": job.id},
                )
                await asyncio.sleep(delay)

    async def _record(
        self, job: Job, outcome: JobOutcome, results: dict[str, Any], elapsed_ms: int
    ) -> None:
        if outcome.ok:
            if await self._completions.complete(job.attempt, results):
                self._completed[job.job_type] += 1
                log.debug(
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
                bounded_text(outcome.error or "failed", REFUSAL_REASON_LIMIT),
                extra={"job_id": job.id},
            )
        else:
            log.error(
                "Job %s failed after %d ms (attempt %d/%d): %s",
                job.id,
                elapsed_ms,
                job.attempts,
                job.max_attempts,
                bounded_text(outcome.error or "failed", REFUSAL_REASON_LIMIT),
                extra={"job_id": job.id},
            )

    async def _log_summary(self) -> None:
        now = time.monotonic()
        completed, self._completed = self._completed, Counter()
        since, self._summary_since = self._summary_since, now
        if completed:
            log.info(
                "Completed %d job(s) in the last %.0f s (%s)",
                completed.total(),
                now - since,
                ", ".join(f"{job_type}: {n}" for job_type, n in sorted(completed.items())),
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
            attempts = self.held
            sent = time.monotonic()
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
                log.error("Heartbeat failed: %s", one_line(exc))
                continue
            except TimeoutError:
                log.error("Heartbeat got no answer within %.0fs", self.lease_seconds)
                continue
            for attempt in held:
                if attempt in self._renewed:
                    self._renewed[attempt] = sent
            for attempt in attempts:
                if attempt not in held and self.prefetched.pop(attempt, None) is not None:
                    self._renewed.pop(attempt, None)
                    log.warning(
                        "Lost the lease of job %s (attempt %d) before it started; not running it",
                        attempt.job_id,
                        attempt.number,
                        extra={"job_id": attempt.job_id},
                    )
                    continue
                task = self.running.get(attempt) or self.recording.get(attempt)
                if attempt not in held and task is not None:
                    log.warning(
                        "Lost the lease of job %s (attempt %d); stopping it",
                        attempt.job_id,
                        attempt.number,
                        extra={"job_id": attempt.job_id},
                    )
                    task.cancel()

    async def _lease_watch(self) -> None:
        """Stop jobs whose leases this worker could not renew in time.

        While heartbeats fail (the database away, the network cut), a lease
        runs out at the server and another worker may rescue the job and run
        it again. Before that can happen, the attempt is stopped here: it must
        not go on starting work (a stats function) under a lease it lost.
        """
        margin = max(0.5, self.lease_seconds / 10)
        while True:
            await asyncio.sleep(min(0.5, self.lease_seconds / 10))
            now = time.monotonic()
            for attempt, renewed in list(self._renewed.items()):
                if now - renewed < self.lease_seconds - margin:
                    continue
                task = self.running.get(attempt) or self.recording.get(attempt)
                if task is None or task.done():
                    continue
                self._renewed.pop(attempt, None)
                log.warning(
                    "Could not renew the lease of job %s (attempt %d) in time; stopping it, "
                    "its lease runs out and the job will be rescued",
                    attempt.job_id,
                    attempt.number,
                    extra={"job_id": attempt.job_id},
                )
                task.cancel()

    async def _periodic_loop(self, task: PeriodicTask) -> None:
        # Start at a random offset so many workers don't all run at once.
        await asyncio.sleep(random.uniform(0, task.interval_seconds))
        while True:
            try:
                if self.schema_gate is None or self.schema_gate.allows_work:
                    await task.run()
            except DB_ERRORS as exc:
                log.error("%s failed: %s", task.name, one_line(exc))
            except Exception:
                log.exception("%s failed", task.name)
            await asyncio.sleep(task.interval_seconds * random.uniform(0.9, 1.1))

    # --- shutdown -------------------------------------------------------------------

    async def _shutdown(self) -> None:
        """Let handlers finish within the grace period, release the rest, await the recording."""
        loop = asyncio.get_running_loop()
        grace = self.settings.shutdown_grace_seconds
        deadline = loop.time() + grace
        if self.prefetched:  # never started: straight back to the queue
            prefetched, self.prefetched = list(self.prefetched), {}
            for attempt in prefetched:
                self._renewed.pop(attempt, None)
            await self._release(prefetched)
        if self.running:
            # Keep a moment at the end of the grace period to give jobs back.
            handlers_until = deadline - min(2.0, grace / 5)
            log.info(
                "Stopping: waiting up to %.0fs for %d running job(s)",
                handlers_until - loop.time(),
                len(self.running),
            )
            while self.running and loop.time() < handlers_until:
                self._wake.clear()  # set when a handler finishes
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), handlers_until - loop.time())
            if self.running:
                await self._release_running()
        await self._await_recording(max(1.0, deadline - loop.time()))

    async def _release_running(self) -> None:
        unfinished = list(self.running)
        tasks = list(self.running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._release(unfinished)

    async def _release(self, unfinished: list[Attempt]) -> None:
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
                one_line(exc),
            )

    async def _await_recording(self, seconds: float) -> None:
        """Completions still being written are awaited; their leases are heartbeated meanwhile."""
        if not self.recording:
            return
        log.info("Stopping: recording the completions of %d job(s)", len(self.recording))
        _, pending = await asyncio.wait(list(self.recording.values()), timeout=seconds)
        if not pending:
            return
        unrecorded = [attempt for attempt, task in self.recording.items() if task in pending]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        log.error(
            "Could not record the completions of %s in time; their leases will expire and "
            "they will run again",
            ", ".join(a.job_id for a in unrecorded),
        )


async def _sleep_or_stop(stop_waiter: asyncio.Task[Any], seconds: float) -> None:
    await asyncio.wait({stop_waiter}, timeout=seconds)
