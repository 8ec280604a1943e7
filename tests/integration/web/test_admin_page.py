"""/admin/info: the job table, its states, details, and the live-update endpoint."""

from __future__ import annotations

import json
import re

from tests.support.db import execute
from tests.support.web import TENANT_B, app_client, insert_job

RESULTS = {
    "total_functions": 2,
    "function_results": [
        {
            "function": "update_power_ratings",
            "status": "success",
            "duration": 12,
            "cache_tags": ["player_power_rating"],
        },
        {
            "function": "update_aggregated_hall_of_fame",
            "status": "failed",
            "duration": 3,
            "cache_tags": ["hall_of_fame"],
            "error": "Database function error: boom",
        },
    ],
    "cache_invalidation_success": False,
    "cache_invalidation": {
        "success": False,
        "invalidated_tags": ["player_power_rating"],
        "failed_tags": ["hall_of_fame"],
        "attempts": [{}, {}],
        "error": "HTTP 503: down",
    },
}


def rows(html: str) -> dict[str, str]:
    """job id -> the HTML of that job's rows (its <tbody>)."""
    blocks = re.split(r'(?=<tbody class="job" data-job-id=")', html)
    return {
        re.match(r'<tbody class="job" data-job-id="([^"]+)"', b).group(1): b  # type: ignore[union-attr]
        for b in blocks
        if b.startswith('<tbody class="job"')
    }


async def test_empty_state(db_url: str) -> None:
    async with app_client(db_url) as client:
        page = await client.get("/admin/info")
    assert page.status_code == 200
    assert "No background jobs found" in page.text
    assert 'id="update-stats"' in page.text
    assert 'data-active="false"' in page.text


async def test_each_status_has_its_colour_and_only_failed_jobs_a_retry_button(
    db_url: str,
) -> None:
    ids = {s: insert_job(db_url, status=s) for s in ("queued", "processing", "completed")}
    ids["failed"] = insert_job(
        db_url,
        status="failed",
        attempts=3,
        error="1/10 stats functions failed",
        results=json.dumps(RESULTS),
    )
    async with app_client(db_url) as client:
        page = await client.get("/admin/info")
    by_job = rows(page.text)
    assert set(by_job) == set(ids.values())
    for status, job_id in ids.items():
        block = by_job[job_id]
        assert f'<span class="pill status-{status}">{status}</span>' in block
        assert ('class="retry"' in block) is (status == "failed")
    assert "In progress..." in by_job[ids["processing"]]
    assert "1/10 stats functions failed" in by_job[ids["failed"]]
    assert 'data-active="true"' in page.text  # a job is queued: poll every 2 s


async def test_a_row_expands_into_function_results_and_cache_outcome(db_url: str) -> None:
    job_id = insert_job(db_url, status="failed", results=json.dumps(RESULTS), error="x")
    async with app_client(db_url) as client:
        block = rows((await client.get("/admin/info")).text)[job_id]
    assert f'id="details-{job_id}" hidden' in block
    assert "update_power_ratings" in block
    assert '<span class="pill fn-pill-failed">failed</span>' in block
    assert "Database function error: boom" in block
    assert "failed: HTTP 503: down" in block
    assert "Not invalidated: hall_of_fame" in block


async def test_filters_and_the_live_endpoint(db_url: str) -> None:
    done = insert_job(db_url, status="completed", trigger="cron")
    failed = insert_job(db_url, status="failed", trigger="admin")
    async with app_client(db_url) as client:
        idle = (await client.get("/admin/info/jobs.json")).json()
        only_failed = (await client.get("/admin/info/jobs.json?status=failed")).json()
        only_cron = await client.get("/admin/info?trigger=cron")
        queued = insert_job(db_url, status="queued")
        busy = (await client.get("/admin/info/jobs.json")).json()
    assert idle["active"] is False
    assert set(rows(idle["rows_html"])) == {done, failed}
    assert set(rows(only_failed["rows_html"])) == {failed}
    assert set(rows(only_cron.text)) == {done}
    assert busy["active"] is True
    assert queued in rows(busy["rows_html"])
    assert 'id="count-queued">1<' in busy["summary_html"]


async def test_flags_and_cache_timestamps_are_shown(db_url: str) -> None:
    execute(
        db_url,
        "INSERT INTO cache_metadata (cache_key, dependency_type) VALUES ('season_stats', 's')",
    )
    async with app_client(db_url, use_bg_jobs_admin=False) as client:
        page = (await client.get("/admin/info")).text
    assert "season_stats" in page
    assert "runs the stats now" in page  # the admin flag is off
    assert "synchronously (flag off)" in page


async def test_job_data_is_escaped(db_url: str) -> None:
    job_id = insert_job(db_url, status="failed", error="<script>alert('error')</script>")
    execute(
        db_url,
        """UPDATE background_job_status
           SET job_payload = job_payload || '{"matchId": "<img src=x onerror=alert(1)>"}'
           WHERE id = %s""",
        job_id,
    )
    async with app_client(db_url) as client:
        page = (await client.get("/admin/info")).text
        live = (await client.get("/admin/info/jobs.json")).json()["rows_html"]
    for html in (page, live):
        assert "<script>alert" not in html
        assert "<img src=x" not in html
        assert "&lt;script&gt;" in html


async def test_pages_of_jobs_keep_the_filters_and_the_feed_follows_a_job(db_url: str) -> None:
    execute(db_url, "INSERT INTO tenants (tenant_id, name) VALUES (%s, 'club-b')", TENANT_B)
    ids = [insert_job(db_url, status="failed", error="boom", age_seconds=a) for a in range(27)]
    async with app_client(db_url) as client:
        first = (await client.get("/admin/info?status=failed&tenant=club-b")).text
        assert list(rows(first)) == ids[:25]
        assert "Jobs 1 to 25" in first
        older = re.search(r'id="older-jobs"[^>]*href="([^"]+)"', first)
        assert older is not None
        link = older.group(1).replace("&amp;", "&")
        assert link == "/admin/info?status=failed&tenant=club-b&page=2"
        second = (await client.get(link)).text
        assert list(rows(second)) == ids[25:] and 'id="older-jobs"' not in second
        assert "Jobs 26 to 27" in second and 'id="newer-jobs"' in second

        feed = (await client.get(f"/admin/info/jobs.json?page=2&follow={ids[0]}")).json()
        assert feed["count"] == 2 and "Jobs 26 to 27" in feed["pager_html"]
        assert feed["followed"] == {
            "id": ids[0],
            "status": "failed",
            "error": "boom",
            "duration": "2.0s",
        }
        only_b = (await client.get("/admin/info/jobs.json?job_tenant=club-b")).json()
        assert only_b["count"] == 0 and only_b["followed"] is None
