"""Scenario 15: rows of odd shape in the job table, and a row no rescue would see.

The job table is shared with the web app and with people who edit it by
hand, so a row may hold what capo-worker never writes: `attempt_errors` as
an object or a string, `results.cache_invalidation.attempts` as a number,
`processing` with no lease and no timestamps at all. Promise: the job list,
job detail, admin page and its live endpoint still answer 200 for everyone,
and only the odd row is shown as unreadable; the timeless `processing` row is
rescued and completed; the metrics count as waiting only jobs that are due.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.acceptance.fault.figures import Figures
from tests.acceptance.fault.harness import (
    environment,
    insert_stats_jobs,
    start_server,
    stop_all,
    stranded,
)
from tests.support.db import query, scalar
from tests.support.leagues import load_fixture
from tests.support.processes import Process
from tests.support.waiting import wait_for

ODD = {
    "attempt_errors as an object": ("failed", "'{\"attempt\": 1}'::jsonb", "NULL"),
    "attempt_errors as a string": ("failed", "'\"worker lost\"'::jsonb", "NULL"),
    "cache attempts as a number": (
        "completed",
        "'[]'::jsonb",
        '\'{"cache_invalidation": {"success": true, "attempts": 3}}\'::jsonb',
    ),
    "results as a list": ("completed", "'[]'::jsonb", "'[1, 2]'::jsonb"),
}


def _insert_odd(db_url: str) -> dict[str, str]:
    ids = {}
    for name, (status, errors, results) in ODD.items():
        ids[name] = str(
            scalar(
                db_url,
                f"""INSERT INTO background_job_status
                        (job_payload, status, attempt_errors, results, attempts, completed_at)
                    VALUES (%s, %s, {errors}, {results}, 1, now()) RETURNING id""",
                json.dumps({"triggeredBy": "admin", "requestId": name}),
                status,
            )
        )
    return ids


def test_odd_rows_render_as_unreadable_and_a_timeless_row_is_rescued(
    db_url: str, start: Callable[..., Process], record_figures: Callable[[Figures], Path]
) -> None:
    load_fixture(db_url, "tiny")
    env = environment(db_url)
    odd = _insert_odd(db_url)
    (normal,) = insert_stats_jobs(db_url, 1)
    # Left in processing with no lease, no started_at and no updated_at: nothing says when.
    timeless = str(
        scalar(
            db_url,
            """INSERT INTO background_job_status
                   (job_payload, status, started_at, updated_at, lease_expires_at, locked_by)
               VALUES ('{"triggeredBy": "admin", "requestId": "timeless"}', 'processing',
                       NULL, NULL, NULL, NULL) RETURNING id""",
        )
    )
    # A retry waiting a day for its turn, created long ago: not due, so not waiting.
    scalar(
        db_url,
        """INSERT INTO background_job_status (job_payload, status, created_at, run_after)
           VALUES ('{"triggeredBy": "admin", "requestId": "later"}', 'queued',
                   now() - interval '3 days', now() + interval '1 day') RETURNING id""",
    )
    server, url = start_server(start, db_url, "run")
    wait_for(
        lambda: (
            scalar(
                db_url,
                "SELECT count(*) FROM background_job_status WHERE id = ANY(%s::uuid[]) "
                "AND status = 'completed'",
                [normal, timeless],
            )
            == 2
        ),
        90,
        "the normal and the timeless job to complete",
    )
    api = f"{url}/api/admin/background-jobs"
    listing = httpx.get(api, timeout=30)
    pages = {
        "job list": listing.status_code,
        "admin page": httpx.get(f"{url}/admin/info", timeout=30).status_code,
        "live endpoint": httpx.get(f"{url}/admin/info/jobs.json", timeout=30).status_code,
        **{
            f"detail, {name}": httpx.get(f"{api}/{job_id}", timeout=30).status_code
            for name, job_id in odd.items()
        },
    }
    metrics = httpx.get(f"{url}/metrics", timeout=30).text
    admin = httpx.get(f"{url}/admin/info", timeout=30).text
    assert stop_all([server]) == [0]

    assert set(pages.values()) == {200}, pages
    listed = {j["id"]: j for j in listing.json()["jobs"]}
    assert set(odd.values()) | {normal, timeless} <= set(listed)
    for name, job_id in odd.items():
        assert listed[job_id]["unreadable"], name
    assert not listed[normal]["unreadable"] and listed[normal]["status"] == "completed"
    # On the admin page only the odd rows carry the mark.
    marked = re.findall(r'data-job-id="([0-9a-f-]{36})" data-status="\w+" data-unreadable', admin)
    assert set(marked) == set(odd.values())

    rescued = query(
        db_url,
        "SELECT attempts, attempt_errors -> 0 ->> 'error' FROM background_job_status WHERE id = %s",
        timeless,
    )
    assert rescued == [(1, "worker lost")]
    oldest = re.search(r'capo_queue_oldest_queued_age_seconds\{queue="[^"]+"\} (\S+)', metrics)
    assert oldest is not None and float(oldest.group(1)) == 0.0, metrics
    assert stranded(db_url) == 0
    record_figures(
        Figures(
            scenario="odd-rows",
            run="quick",
            load=f"{len(ODD)} odd rows, 1 timeless processing row, 1 normal job, "
            "1 queued job due tomorrow",
            faults=", ".join(ODD),
            jobs_in=2,
            jobs_completed=2,
            lost=0,
            duplicated_at_once=None,
            stranded=stranded(db_url),
            recovery="n/a",
            details={
                "answers": ", ".join(f"{k} {v}" for k, v in pages.items()),
                "rows marked unreadable on the admin page": f"{len(marked)} of {len(listed)} rows",
                "timeless processing row": "rescued as 'worker lost', then completed",
                "oldest queued age with only a not-yet-due job waiting": "0 s",
            },
            environment=env,
        )
    )
