"""Successful outcomes recorded many jobs per statement (`queue.complete_many`)."""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from capo_worker import queue
from capo_worker.db_errors import is_permanent
from capo_worker.job_row import Attempt


class ConnectionSource(Protocol):
    """A pool, or the worker's dedicated session (db.DedicatedConnection)."""

    def connection(self) -> AbstractAsyncContextManager[queue.Conn]: ...


class CompletionBatcher:
    """Records successful outcomes, many jobs per statement.

    A job's task waits here until its completion is recorded (having given
    its concurrency slot to the next job: worker.py). Whatever
    finished while one statement ran goes into the next: one job per
    statement when the worker is quiet, a batch under load, and no added
    wait either way. Per-job results and the fence (job, worker, attempt) are
    those of `queue.complete_many`. A batch the database refuses for good is tried
    again one job at a time, so one unstorable outcome fails only its own job.
    """

    def __init__(self, connections: ConnectionSource, worker_id: str) -> None:
        self.connections = connections
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
            async with self.connections.connection() as conn:
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
