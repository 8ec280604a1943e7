"""The admin page's filters offer exactly the job row's statuses and triggers (job_row.py)."""

from __future__ import annotations

from typing import get_args

from capo_worker.job_row import STATUSES, TRIGGERS
from capo_worker.web.page_docs import StatusFilter, TriggerFilter


def test_the_filters_are_all_then_the_job_rows_values() -> None:
    assert get_args(StatusFilter) == ("", *STATUSES)
    assert get_args(TriggerFilter) == ("", *TRIGGERS)
