"""Job.of_row: the claimed row as a plain read-only object (job_row.py)."""

from __future__ import annotations

from typing import Any

import pytest

from capo_worker.job_row import COLUMNS, Attempt, Job


def _row(**values: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row.update(id="job-1", job_type="stats_update", job_payload={}, attempts=2, attempt_errors=[])
    row.update(values)
    return row


def test_every_column_of_the_row_is_an_attribute() -> None:
    row = _row(job_payload={"triggeredBy": "admin", "requestId": "r-9"}, tenant_id=None)
    job = Job.of_row(row)
    assert {name: getattr(job, name) for name in COLUMNS} == row
    assert (job.trigger, job.request_id, job.attempt) == ("admin", "r-9", Attempt("job-1", 2))


def test_a_job_cannot_be_changed() -> None:
    job = Job.of_row(_row())
    with pytest.raises(AttributeError, match="read-only"):
        job.status = "completed"
    assert job.status is None


def test_equality_is_by_columns_whether_or_not_the_attempt_was_read() -> None:
    first, second = Job.of_row(_row()), Job.of_row(_row())
    assert first.attempt == Attempt("job-1", 2)  # cached on `first` only
    assert first == second
    assert first != Job.of_row(_row(attempts=3))
    assert "attempt=" not in repr(first) and "attempts=2" in repr(first)
