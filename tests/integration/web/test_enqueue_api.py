"""POST/GET /api/admin/enqueue-stats-job: the seed's contract, validation, flags."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import uuid
from collections.abc import AsyncIterator

import pytest

from capo_worker.constants import DEFAULT_TENANT_ID
from tests.support.db import execute, query
from tests.support.leagues import load_fixture
from tests.support.web import (
    TENANT_B,
    app_client,
    break_function,
    job_rows,
    pin_today,
    settings_for,
)

URL = "/api/admin/enqueue-stats-job"
ISO_MS_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def body(**fields: object) -> dict[str, object]:
    return {"triggeredBy": "admin", "requestId": str(uuid.uuid4()), **fields}


def stored(db_url: str, job_id: str) -> tuple[dict[str, object], int, str]:
    payload, priority, tenant = query(
        db_url,
        "SELECT job_payload, priority, tenant_id::text FROM background_job_status WHERE id = %s",
        job_id,
    )[0]
    return payload, priority, tenant


async def test_enqueue_stores_the_request_and_answers_the_seed_shape(db_url: str) -> None:
    request = body(triggeredBy="post-match", matchId=57, extra={"kept": True})
    async with app_client(db_url) as client:
        response = await client.post(URL, json=request)
    assert response.status_code == 200
    data = response.json()
    assert data["success"] is True
    assert data["message"] == "Stats update job successfully enqueued for post-match trigger"
    assert data["deduplicated"] is False
    assert data["mode"] == "background"
    payload, priority, tenant = stored(db_url, str(uuid.UUID(data["jobId"])))
    assert priority == 2  # post-match goes first
    assert tenant == DEFAULT_TENANT_ID
    assert ISO_MS_Z.match(str(payload.pop("timestamp")))  # added by the server
    assert payload == request  # stored as sent, unknown keys included


async def test_admin_and_cron_jobs_have_priority_one_and_keep_their_timestamp(
    db_url: str,
) -> None:
    async with app_client(db_url) as client:
        admin = await client.post(URL, json=body(timestamp="2026-11-28T18:49:05.123Z"))
        cron = await client.post(URL, json=body(triggeredBy="cron"))
    payload, priority, _ = stored(db_url, admin.json()["jobId"])
    assert priority == 1
    assert payload["timestamp"] == "2026-11-28T18:49:05.123Z"
    assert stored(db_url, cron.json()["jobId"])[1] == 1


@pytest.mark.parametrize(
    "timestamp",
    [
        "2026-11-28T18:49:05.123Z",
        "2026-11-28t18:49:05z",
        "2026-11-28 18:49:05+02:00",
        "2026-11-28T18:49:05.123456789Z",
        "2026-11-28",
    ],
)
async def test_a_real_date_time_is_kept_as_sent(db_url: str, timestamp: str) -> None:
    async with app_client(db_url) as client:
        response = await client.post(URL, json=body(timestamp=timestamp))
    assert response.status_code == 200, response.text
    assert stored(db_url, response.json()["jobId"])[0]["timestamp"] == timestamp


async def test_unknown_fields_are_kept_up_to_a_small_size(db_url: str) -> None:
    async with app_client(db_url) as client:
        small = await client.post(URL, json=body(note="n" * 900, tags=["a", "b"]))
    assert small.status_code == 200, small.text
    assert stored(db_url, small.json()["jobId"])[0]["note"] == "n" * 900


async def test_the_same_request_id_answers_with_the_same_job(db_url: str) -> None:
    request = body()
    async with app_client(db_url) as client:
        first = (await client.post(URL, json=request)).json()
        again = (await client.post(URL, json=request)).json()
    assert again["jobId"] == first["jobId"]
    assert (first["deduplicated"], again["deduplicated"]) == (False, True)
    assert query(db_url, "SELECT count(*) FROM background_job_status")[0][0] == 1


async def test_a_request_joins_a_queued_job_of_its_tenant(db_url: str) -> None:
    async with app_client(db_url) as client:
        first = (await client.post(URL, json=body())).json()
        second = (await client.post(URL, json=body(triggeredBy="cron"))).json()
    assert second["jobId"] == first["jobId"]
    assert second["deduplicated"] is True


async def test_tenant_by_name_or_id(db_url: str) -> None:
    execute(db_url, "INSERT INTO tenants (tenant_id, name) VALUES (%s, 'club-b')", TENANT_B)
    async with app_client(db_url) as client:
        by_name = (await client.post(URL, json=body(tenantId="club-b"))).json()
        by_id = (await client.post(URL, json=body(tenantId=TENANT_B))).json()
    assert stored(db_url, by_name["jobId"])[2] == TENANT_B
    assert by_id["jobId"] == by_name["jobId"]  # same tenant, still queued: coalesced


def with_(extra: bytes) -> bytes:
    """A valid request plus `extra` (raw JSON members)."""
    return b'{"triggeredBy":"admin","requestId":"r",' + extra + b"}"


def _deep(levels: int) -> str:
    return '{"triggeredBy":"admin","requestId":"r","x":' + "[" * levels + "]" * levels + "}"


INVALID = [
    ("invalid JSON", b'{"triggeredBy": "admin",', "body", "Invalid JSON"),
    ("empty body", b"", "body", "empty"),
    ("null", b"null", "body", "must be a JSON object"),
    ("array", b"[]", "body", "must be a JSON object"),
    ("string", b'"admin"', "body", "must be a JSON object"),
    ("not UTF-8", b'{"triggeredBy": "\xff"}', "body", "UTF-8"),
    ("no triggeredBy", b'{"requestId": "r1"}', "triggeredBy", "triggeredBy and requestId"),
    ("no requestId", b'{"triggeredBy": "admin"}', "requestId", "triggeredBy and requestId"),
    ("empty requestId", b'{"triggeredBy": "admin", "requestId": ""}', "requestId", "required"),
    ("trigger case", b'{"triggeredBy": "Admin", "requestId": "r"}', "triggeredBy", "Must be one"),
    ("trigger number", b'{"triggeredBy": 5, "requestId": "r"}', "triggeredBy", "Must be one of"),
    ("requestId number", b'{"triggeredBy": "admin", "requestId": 7}', "requestId", "string"),
    ("matchId text", with_(b'"matchId":"57"'), "matchId", "int"),
    ("matchId float", with_(b'"matchId":1.5'), "matchId", "int"),
    ("matchId bool", with_(b'"matchId":true'), "matchId", "int"),
    ("userId number", with_(b'"userId":5'), "userId", "string"),
    ("retryOf", with_(b'"retryOf":"job-1"'), "retryOf", "UUID"),
    (
        "timestamp",
        with_(b'"timestamp":"soon"'),
        "timestamp",
        "ISO",
    ),
    (
        "timestamp type",
        with_(b'"timestamp":5'),
        "timestamp",
        "ISO",
    ),
    (
        "tenantId type",
        with_(b'"tenantId":5'),
        "tenantId",
        "tenant",
    ),
    ("NUL", with_(b'"note":"a\\u0000b"'), "note", "NUL"),
    ("surrogate", with_(b'"n":"\\ud800"'), "n", "surrogate"),
    ("NaN", with_(b'"n":NaN'), "body", "NaN"),
    ("infinite", with_(b'"n":1e999'), "n", "finite"),
    ("too deep", _deep(40).encode(), "x", "nested"),
    ("long requestId", json.dumps(body(requestId="r" * 201)).encode(), "requestId", "longer"),
    ("month 13", with_(b'"timestamp":"2026-13-45T99:99:99Z"'), "timestamp", "ISO"),
    ("February 30", with_(b'"timestamp":"2026-02-30T10:00:00Z"'), "timestamp", "ISO"),
    ("hour 24", with_(b'"timestamp":"2026-11-28T24:00:00Z"'), "timestamp", "ISO"),
    (
        "unknown fields over 1 kB",
        with_(b'"note":"' + b"n" * 600 + b'","pad":"' + b"p" * 700 + b'"'),
        "pad",
        "1024 bytes",
    ),
]


@pytest.mark.parametrize(
    ("raw", "field", "error"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID]
)
async def test_invalid_requests_get_400_naming_the_field_and_write_nothing(
    db_url: str, raw: bytes, field: str, error: str
) -> None:
    async with app_client(db_url) as client:
        response = await client.post(URL, content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    data = response.json()
    assert data["success"] is False
    assert data["field"] == field
    assert error in data["error"]
    assert field in data["error"] or field == "body"
    assert data["message"] in ("Invalid request payload", "Invalid trigger type")
    assert job_rows(db_url) == 0


async def test_seed_messages_are_kept(db_url: str) -> None:
    async with app_client(db_url) as client:
        missing = (await client.post(URL, json={"requestId": "r"})).json()
        wrong = (await client.post(URL, json={"triggeredBy": "manual", "requestId": "r"})).json()
    assert missing["message"] == "Invalid request payload"
    assert "triggeredBy and requestId are required" in missing["error"]
    assert wrong == {
        "success": False,
        "error": "Invalid triggeredBy value. Must be one of: post-match, admin, cron",
        "message": "Invalid trigger type",
        "field": "triggeredBy",
    }


async def test_unknown_tenant_is_400_and_writes_nothing(db_url: str) -> None:
    async with app_client(db_url) as client:
        response = await client.post(URL, json=body(tenantId="nobody"))
    assert response.status_code == 400
    assert response.json()["field"] == "tenantId"
    assert job_rows(db_url) == 0


async def test_a_body_over_the_limit_is_413_and_writes_nothing(db_url: str) -> None:
    big = json.dumps(body(padding="x" * 2000)).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 500):
            yield big[start : start + 500]

    async with app_client(db_url, max_request_body_bytes=1024) as client:
        json_type = {"Content-Type": "application/json"}
        declared = await client.post(URL, content=big, headers=json_type)
        streamed = await client.post(URL, content=chunks(), headers=json_type)  # no length
        small = await client.post(URL, json=body())
    for response in (declared, streamed):
        assert response.status_code == 413
        assert response.json()["success"] is False
        assert "1024 bytes" in response.json()["error"]
    assert small.status_code == 200
    assert query(db_url, "SELECT count(*) FROM background_job_status")[0][0] == 1


async def test_get_answers_the_seed_health_document(db_url: str) -> None:
    async with app_client(db_url, use_bg_jobs_cron=False) as client:
        response = await client.get(URL)
    assert response.status_code == 200
    data = response.json()
    assert data["status"] == "healthy"
    assert data["endpoint"] == "enqueue-stats-job"
    assert data["supportedTriggers"] == ["post-match", "admin", "cron"]
    assert dt.datetime.fromisoformat(data["timestamp"])
    assert data["backgroundJobs"] == {"post-match": True, "admin": True, "cron": False}


# --- feature flags: the synchronous rollback path ---------------------------------


async def _league(db_url: str) -> None:
    await asyncio.to_thread(load_fixture, db_url, "tiny")
    pin_today(db_url, "2026-11-28")


@pytest.mark.parametrize(
    ("flags", "trigger"),
    [
        ({"use_bg_jobs_admin": False}, "admin"),
        ({"use_bg_jobs_global": False}, "cron"),
        ({"use_bg_jobs_match": False}, "post-match"),
    ],
)
async def test_flag_off_runs_the_stats_now_and_queues_nothing(
    db_url: str, flags: dict[str, bool], trigger: str
) -> None:
    await _league(db_url)
    async with app_client(db_url, settings_for(db_url, **flags)) as client:
        response = await client.post(URL, json=body(triggeredBy=trigger))
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["success"] is True
    assert data["mode"] == "synchronous"
    assert data["jobId"] is None
    results = data["results"]
    assert results["total_functions"] == 10
    assert results["successful_functions"] == 10
    assert [r["status"] for r in results["function_results"]] == ["success"] * 10
    assert results["cache_invalidation"]["skipped"] is True
    assert job_rows(db_url) == 0
    assert query(db_url, "SELECT count(*) FROM aggregated_all_time_stats")[0][0] > 0


async def test_other_triggers_still_queue_when_one_flag_is_off(db_url: str) -> None:
    async with app_client(db_url, use_bg_jobs_match=False) as client:
        response = await client.post(URL, json=body(triggeredBy="admin"))
    assert response.json()["mode"] == "background"
    assert query(db_url, "SELECT count(*) FROM background_job_status")[0][0] == 1


async def test_the_next_public_spelling_of_a_flag_is_honoured(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from capo_worker.config import load_settings

    for name in ("USE_BG_JOBS_GLOBAL", "USE_BG_JOBS_ADMIN", "NEXT_PUBLIC_USE_BG_JOBS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NEXT_PUBLIC_USE_BG_JOBS_ADMIN", "false")
    settings = load_settings(env_file=None, database_url=db_url, admin_api_key=None)
    await _league(db_url)
    async with app_client(db_url, settings) as client:
        response = await client.post(URL, json=body())
    assert response.json()["mode"] == "synchronous"


async def test_a_failing_function_in_a_synchronous_run_is_a_500_with_the_results(
    db_url: str,
) -> None:
    await _league(db_url)
    break_function(db_url, "update_aggregated_hall_of_fame", "hall of fame is broken")
    async with app_client(db_url, use_bg_jobs_admin=False) as client:
        response = await client.post(URL, json=body())
    assert response.status_code == 500
    data = response.json()
    assert data["success"] is False
    assert data["message"] == "Stats update completed with issues"
    assert "1/10 stats functions failed (update_aggregated_hall_of_fame)" in data["error"]
    by_name = {r["function"]: r for r in data["results"]["function_results"]}
    assert "hall of fame is broken" in by_name["update_aggregated_hall_of_fame"]["error"]
    assert by_name["update_aggregated_all_time_stats"]["status"] == "success"
    assert job_rows(db_url) == 0
