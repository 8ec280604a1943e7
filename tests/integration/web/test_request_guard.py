"""What a web page of another site, or a DNS-rebinding host name, can no longer do.

With and without ADMIN_API_KEY: request bodies must be JSON (415), the Host
must be a loopback or configured name (421; 400 when missing), and a request
that changes something must not come from another origin (403). None of the
refused requests writes anything.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from capo_worker.web.request_guard import unnamed_server_warning
from tests.support.db import query
from tests.support.web import ADMIN_KEY, app_client, insert_job, job_rows, settings_for

ENQUEUE = "/api/admin/enqueue-stats-job"
JOBS = "/api/admin/background-jobs"
KEYS = [pytest.param(None, id="open"), pytest.param(ADMIN_KEY, id="key")]


def auth(key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"} if key else {}


def enqueue_body() -> bytes:
    return json.dumps({"triggeredBy": "admin", "requestId": str(uuid.uuid4())}).encode()


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",  # what a cross-site <form enctype="text/plain"> sends
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "text/json",
        "application/json; charset=latin-1",
        None,  # a body and no type at all
    ],
)
async def test_request_bodies_must_be_json(
    db_url: str, key: str | None, content_type: str | None
) -> None:
    headers = auth(key) | ({"Content-Type": content_type} if content_type else {})
    async with app_client(db_url, admin_api_key=key) as client:
        response = await client.post(ENQUEUE, content=enqueue_body(), headers=headers)
    assert response.status_code == 415, response.text
    data = response.json()
    assert data["success"] is False and "application/json" in data["error"]
    assert job_rows(db_url) == 0


@pytest.mark.parametrize("key", KEYS)
async def test_an_empty_text_plain_post_cannot_retry_a_job(db_url: str, key: str | None) -> None:
    failed = insert_job(db_url, status="failed", attempts=3)
    async with app_client(db_url, admin_api_key=key) as client:
        refused = await client.post(
            f"{JOBS}/{failed}/retry",
            content=b"",
            headers=auth(key) | {"Content-Type": "text/plain"},
        )
        assert refused.status_code == 415
        assert query(db_url, "SELECT status FROM background_job_status")[0][0] == "failed"
        # JSON (with its charset), or no body at all, is what the API takes.
        typed = await client.post(
            ENQUEUE,
            content=enqueue_body(),
            headers=auth(key) | {"Content-Type": "application/json; charset=utf-8"},
        )
        bare = await client.post(f"{JOBS}/{failed}/retry", headers=auth(key))
    assert (typed.status_code, bare.status_code) == (200, 200)


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("path", [JOBS, ENQUEUE, "/admin/info", "/stats", "/openapi.json"])
async def test_a_host_name_that_is_not_ours_is_refused(
    db_url: str, key: str | None, path: str
) -> None:
    async with app_client(db_url, admin_api_key=key) as client:
        rebound = await client.get(
            path, headers=auth(key) | {"Host": "rebind.attacker.example:8000"}
        )
    assert rebound.status_code == 421, rebound.text
    assert "ALLOWED_HOSTS" in rebound.json()["error"]


@pytest.mark.parametrize("host", ["", "bad host", "127.0.0.1:80:80", "[::1", "a/b"])
async def test_a_missing_or_malformed_host_is_a_400(db_url: str, host: str) -> None:
    async with app_client(db_url) as client:
        response = await client.get(JOBS, headers={"Host": host})
    assert response.status_code == 400, response.text
    assert "Host" in response.json()["error"]


@pytest.mark.parametrize(
    ("settings", "host", "status"),
    [
        ({}, "127.0.0.1:8000", 200),
        ({}, "localhost:8000", 200),
        ({}, "LOCALHOST", 200),
        ({}, "[::1]:8000", 200),
        ({}, "127.0.0.2", 200),
        ({}, "capo.example.com", 421),
        ({"allowed_hosts": "capo.example.com, .example.org"}, "capo.example.com", 200),
        ({"allowed_hosts": "capo.example.com, .example.org"}, "CAPO.example.com:443", 200),
        ({"allowed_hosts": "capo.example.com, .example.org"}, "stats.example.org", 200),
        ({"allowed_hosts": "capo.example.com, .example.org"}, "example.org", 200),
        ({"allowed_hosts": "capo.example.com, .example.org"}, "evilexample.org", 421),
        ({"allowed_hosts": "capo.example.com, .example.org"}, "capo.example.com.evil", 421),
        ({"public_url": "https://worker.example.net"}, "worker.example.net", 200),
        ({"public_url": "https://worker.example.net"}, "example.net", 421),
        ({"host": "192.0.2.10", "admin_api_key": ADMIN_KEY}, "192.0.2.10:8000", 200),
    ],
)
async def test_loopback_and_configured_names_are_ours(
    db_url: str, settings: dict[str, Any], host: str, status: int
) -> None:
    key = settings.get("admin_api_key")
    async with app_client(db_url, **settings) as client:
        response = await client.get(JOBS, headers=auth(key) | {"Host": host})
    assert response.status_code == status, response.text


async def test_probes_answer_whatever_name_they_are_asked_by(db_url: str) -> None:
    # Orchestrators probe a container by its address, which no setting names.
    async with app_client(db_url) as client:
        for path in ("/healthz", "/metrics"):
            response = await client.get(path, headers={"Host": "10.1.2.3:8000"})
            assert response.status_code == 200, path


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize(
    "origin",
    [
        "http://attacker.example",
        "null",  # sandboxed frames and data: pages
        "http://127.0.0.1:9999",  # another program on this machine
        "http://localhost:8000",  # another name is another origin
        "http://127.0.0.1:8000.attacker.example",
    ],
)
async def test_writes_from_another_origin_are_refused(
    db_url: str, key: str | None, origin: str
) -> None:
    failed = insert_job(db_url, status="failed", attempts=3)
    headers = auth(key) | {"Origin": origin}
    async with app_client(db_url, admin_api_key=key) as client:
        answers = [
            await client.post(ENQUEUE, content=enqueue_body(), headers=headers | _json()),
            await client.post(f"{JOBS}/{failed}/retry", headers=headers),
            await client.post("/admin/signin", data={"key": ADMIN_KEY}, headers={"Origin": origin}),
        ]
        read = await client.get(JOBS, headers=headers)  # reading: the browser keeps it to itself
    for response in answers:
        assert response.status_code == 403, response.text
        assert "Origin" in response.json()["error"]
        assert "set-cookie" not in response.headers
    assert read.status_code == 200
    assert job_rows(db_url) == 1  # only the failed job
    assert query(db_url, "SELECT status FROM background_job_status")[0][0] == "failed"


@pytest.mark.parametrize("key", KEYS)
async def test_writes_from_our_own_origin_pass(db_url: str, key: str | None) -> None:
    async with app_client(db_url, admin_api_key=key, public_url="https://capo.example.com") as c:
        own = await c.post(
            ENQUEUE,
            content=enqueue_body(),
            headers=auth(key) | _json() | {"Origin": "http://127.0.0.1:8000"},
        )
        # Behind a proxy that passes its own Host, the public URL is our origin.
        public = await c.post(
            ENQUEUE,
            content=enqueue_body(),
            headers=auth(key) | _json() | {"Origin": "https://capo.example.com"},
        )
    assert (own.status_code, public.status_code) == (200, 200)


async def test_a_cross_site_fetch_without_origin_is_refused(db_url: str) -> None:
    async with app_client(db_url) as client:
        response = await client.post(
            ENQUEUE, content=enqueue_body(), headers=_json() | {"Sec-Fetch-Site": "cross-site"}
        )
    assert response.status_code == 403
    assert job_rows(db_url) == 0


async def test_the_sign_in_form_takes_a_form_and_nothing_else(db_url: str) -> None:
    async with app_client(db_url, admin_api_key=ADMIN_KEY) as client:
        as_json = await client.post("/admin/signin", json={"key": ADMIN_KEY})
        as_text = await client.post(
            "/admin/signin", content=f"key={ADMIN_KEY}", headers={"Content-Type": "text/plain"}
        )
        as_form = await client.post("/admin/signin", data={"key": ADMIN_KEY})
    assert (as_json.status_code, as_text.status_code) == (415, 415)
    assert "application/x-www-form-urlencoded" in as_json.json()["error"]
    assert as_form.status_code == 303 and "set-cookie" in as_form.headers


def _json() -> dict[str, str]:
    return {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("settings", "warned"),
    [
        ({"host": "0.0.0.0"}, True),
        ({"host": "::"}, True),
        ({"host": "0.0.0.0", "allowed_hosts": "capo.example.com"}, False),
        ({"host": "0.0.0.0", "public_url": "https://capo.example.com"}, False),
        ({"host": "192.0.2.10"}, False),  # HOST itself is a name requests may use
        ({"host": "127.0.0.1"}, False),
    ],
)
def test_a_server_listening_everywhere_without_a_name_says_so(
    settings: dict[str, Any], warned: bool
) -> None:
    warning = unnamed_server_warning(settings_for("postgresql://x/y", **settings))
    assert (warning is not None) is warned
    if warning:
        assert "ALLOWED_HOSTS" in warning and "421" in warning
