"""/api/admin/background-jobs: list with filters, one job, retry."""

from __future__ import annotations

import uuid

import pytest

from tests.support.db import execute, query
from tests.support.web import TENANT_B, app_client, insert_job

URL = "/api/admin/background-jobs"


async def test_list_is_newest_first_with_filters_and_limit(db_url: str) -> None:
    old_failed = insert_job(db_url, status="failed", trigger="cron", age_seconds=300, error="boom")
    completed = insert_job(db_url, status="completed", trigger="admin", age_seconds=200)
    queued = insert_job(db_url, status="queued", trigger="post-match", age_seconds=100)
    async with app_client(db_url) as client:
        everything = (await client.get(URL)).json()
        failed = (await client.get(URL, params={"status": "failed"})).json()
        matches = (await client.get(URL, params={"trigger": "post-match"})).json()
        newest = (await client.get(URL, params={"limit": 2})).json()
    assert [j["id"] for j in everything["jobs"]] == [queued, completed, old_failed]
    assert everything["count"] == 3
    assert [j["id"] for j in failed["jobs"]] == [old_failed]
    assert failed["jobs"][0]["error_message"] == "boom"
    assert [j["id"] for j in matches["jobs"]] == [queued]
    assert matches["jobs"][0]["trigger"] == "post-match"
    assert [j["id"] for j in newest["jobs"]] == [queued, completed]


async def test_list_pages_with_offset_and_filters_by_tenant(db_url: str) -> None:
    execute(db_url, "INSERT INTO tenants (tenant_id, name) VALUES (%s, 'club-b')", TENANT_B)
    ids = [insert_job(db_url, status="completed", age_seconds=age) for age in range(4)]
    execute(
        db_url, "UPDATE background_job_status SET tenant_id = %s WHERE id = %s", TENANT_B, ids[1]
    )
    async with app_client(db_url) as client:
        second_page = (await client.get(URL, params={"limit": 2, "offset": 2})).json()
        club_b = (await client.get(URL, params={"tenant": "club-b"})).json()
        by_id = (await client.get(URL, params={"tenant": TENANT_B})).json()
        default = (await client.get(URL, params={"tenant": "default"})).json()
    assert [j["id"] for j in second_page["jobs"]] == ids[2:]
    assert [j["id"] for j in club_b["jobs"]] == [ids[1]] == [j["id"] for j in by_id["jobs"]]
    assert [j["id"] for j in default["jobs"]] == [ids[0], ids[2], ids[3]]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "done"}, "status"),
        ({"trigger": "manual"}, "trigger"),
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"tenant": "nobody"}, "tenant"),
        ({"tenant": "x" * 201}, "tenant"),
    ],
)
async def test_bad_list_parameters_are_400_naming_the_parameter(
    db_url: str, params: dict[str, str], field: str
) -> None:
    async with app_client(db_url) as client:
        response = await client.get(URL, params=params)
    assert response.status_code == 400
    data = response.json()
    assert (data["success"], data["field"]) == (False, field)
    assert field in data["error"]


async def test_one_job_with_its_results_and_attempt_errors(db_url: str) -> None:
    job_id = insert_job(
        db_url,
        status="failed",
        attempts=3,
        error="1/10 stats functions failed",
        results='{"total_functions": 10, "function_results": []}',
    )
    async with app_client(db_url) as client:
        response = await client.get(f"{URL}/{job_id}")
    assert response.status_code == 200
    job = response.json()["job"]
    assert job["id"] == job_id
    assert job["status"] == "failed"
    assert job["results"]["total_functions"] == 10
    assert job["attempts"] == 3
    assert job["duration_ms"] is not None


async def test_unknown_job_is_404_and_a_malformed_id_is_400(db_url: str) -> None:
    async with app_client(db_url) as client:
        missing = await client.get(f"{URL}/{uuid.uuid4()}")
        malformed = await client.get(f"{URL}/not-a-uuid")
        retry_missing = await client.post(f"{URL}/{uuid.uuid4()}/retry")
        retry_malformed = await client.post(f"{URL}/123/retry")
    assert missing.status_code == 404
    assert missing.json()["message"] == "Job not found"
    assert malformed.status_code == 400
    assert malformed.json()["field"] == "id"
    assert retry_missing.status_code == 404
    assert retry_malformed.status_code == 400


async def test_retry_queues_a_failed_job_again(db_url: str) -> None:
    job_id = insert_job(db_url, status="failed", attempts=3, error="boom")
    async with app_client(db_url) as client:
        response = await client.post(f"{URL}/{job_id}/retry")
    assert response.status_code == 200
    data = response.json()
    assert data["jobId"] == job_id
    assert data["job"]["status"] == "queued"
    assert data["job"]["retry_count"] == 1
    assert data["message"] == "Job queued again (retry 1)"
    status, retries, max_attempts = query(
        db_url,
        "SELECT status, retry_count, max_attempts FROM background_job_status WHERE id = %s",
        job_id,
    )[0]
    assert (status, retries) == ("queued", 1)
    assert max_attempts > 3  # fresh attempts for the retry


@pytest.mark.parametrize("status", ["queued", "processing", "completed"])
async def test_retry_of_a_job_that_is_not_failed_is_409(db_url: str, status: str) -> None:
    job_id = insert_job(db_url, status=status)
    async with app_client(db_url) as client:
        response = await client.post(f"{URL}/{job_id}/retry")
    assert response.status_code == 409
    data = response.json()
    assert data["success"] is False
    assert f"is {status}; only failed jobs can be retried" in data["error"]
    row = query(
        db_url, "SELECT status, retry_count FROM background_job_status WHERE id = %s", job_id
    )
    assert row == [(status, 0)]
