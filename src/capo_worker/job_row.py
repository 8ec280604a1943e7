"""The job row, defined once: its columns, statuses and triggers.

`background_job_status` is created by migrations/0001_job_queue.sql;
`JobColumns` names the columns capo-worker reads, and everything else is
derived from it: `Job` (what queue.py returns), the select list of every
queue statement (`job_columns`), the API's JobOut (web/schemas.py) and the
CLI's JSON. tests/integration/test_job_row.py checks that the table agrees
(columns, nullability, the status CHECK, the defaults).

Rows are read without validation (`Job.of_row`): the table is shared with the
web app and open to hand edits, so a JSON column may hold any shape, and the
readers (web/job_view.py, results.py) say what they cannot read. `Job` is a
plain read-only object rather than a pydantic model because the worker builds
one per claimed job: filling its `__dict__` from the row costs well under a
microsecond, `model_construct` several (docs/benchmarks.md, "Job queue").
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, get_args

from pydantic import BaseModel

from capo_worker.constants import DEFAULT_TENANT_ID

Status = Literal["queued", "processing", "completed", "failed"]
Trigger = Literal["post-match", "admin", "cron"]
STATUSES: tuple[Status, ...] = get_args(Status)
TRIGGERS: tuple[Trigger, ...] = get_args(Trigger)
FINISHED: tuple[Status, ...] = ("completed", "failed")

# Columns read as text: psycopg would return uuid.UUID, the API and logs want strings.
_TEXT_COLUMNS = ("id", "tenant_id")


class Attempt(NamedTuple):
    """One claim of a job: the fence of every write made for it after the claim."""

    job_id: str
    number: int  # the job's `attempts` right after this claim

    @property
    def application_name(self) -> str:
        """Prefix of `application_name` on this attempt's stats transactions (< 64 bytes)."""
        return f"capo-job {self.job_id} #{self.number}"


class JobColumns(BaseModel):
    """The columns of background_job_status that capo-worker reads."""

    id: str
    job_type: str
    job_payload: dict[str, Any]  # an object when capo-worker or the app wrote it
    status: Status
    priority: int | None
    tenant_id: str | None  # NULL on rows the web app inserts: the default tenant's
    queue_name: str
    attempts: int
    max_attempts: int
    retry_count: int
    created_at: dt.datetime | None
    started_at: dt.datetime | None
    completed_at: dt.datetime | None
    updated_at: dt.datetime | None
    run_after: dt.datetime
    locked_by: str | None
    lease_expires_at: dt.datetime | None
    error_message: str | None
    results: dict[str, Any] | None  # the results JSON (results.py), as stored
    attempt_errors: list[dict[str, Any]]  # one object per failed attempt


if TYPE_CHECKING:
    # The type checker reads Job's attributes from the one definition above;
    # at run time a Job is a plain object holding the row (see the module's note).
    _JobRowBase = JobColumns
else:
    _JobRowBase = object


class Job(_JobRowBase):
    """One row, as queue.py reads it: read-only, one attribute per column."""

    @classmethod
    def of_row(cls, row: dict[str, Any]) -> Job:
        """A row as the database gave it, not validated (see the module's note)."""
        job = object.__new__(cls)
        job.__dict__.update(row)
        return job

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"a Job is read-only (tried to set {name!r})")

    def _columns(self) -> dict[str, Any]:
        return {name: self.__dict__.get(name) for name in COLUMNS}  # not the cached `attempt`

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Job) and other._columns() == self._columns()

    __hash__ = None  # type: ignore[assignment]  # holds dicts: not hashable

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={value!r}" for name, value in self._columns().items())
        return f"Job({fields})"

    @functools.cached_property  # the worker's key for the job, read several times per job
    def attempt(self) -> Attempt:
        """This claim of the job (meaningful on a job returned by `queue.claim`)."""
        return Attempt(self.id, self.attempts)

    @property
    def trigger(self) -> str | None:
        value = self.job_payload.get("triggeredBy") if isinstance(self.job_payload, dict) else None
        return str(value) if value is not None else None

    @property
    def request_id(self) -> str | None:
        value = self.job_payload.get("requestId") if isinstance(self.job_payload, dict) else None
        return str(value) if value is not None else None

    @property
    def effective_tenant_id(self) -> str:
        """Rows the web app inserts carry no tenant: they are the default tenant's."""
        return self.tenant_id or DEFAULT_TENANT_ID

    @property
    def duration_ms(self) -> int | None:
        if self.started_at and self.completed_at and self.completed_at >= self.started_at:
            return int((self.completed_at - self.started_at).total_seconds() * 1000)
        return None

    def to_dict(self) -> dict[str, Any]:
        """The row for the CLI's --json: every column, datetimes as isoformat(), duration."""
        out: dict[str, Any] = {}
        for name in COLUMNS:
            value = getattr(self, name)
            out[name] = value.isoformat() if isinstance(value, dt.datetime) else value
        out["duration_ms"] = self.duration_ms
        return out


COLUMNS: tuple[str, ...] = tuple(JobColumns.model_fields)


def job_columns(alias: str = "") -> str:
    """The select list of a Job, optionally for a table alias (`j.id::text AS id, ...`)."""
    prefix = f"{alias}." if alias else ""
    return ", ".join(
        f"{prefix}{c}::text AS {c}" if c in _TEXT_COLUMNS else f"{prefix}{c}" for c in COLUMNS
    )
