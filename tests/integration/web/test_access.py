"""ADMIN_API_KEY: Bearer for the API, a signed session for the pages, CSRF, no leaks."""

from __future__ import annotations

import asyncio
import logging
import uuid

import httpx
import pytest

from capo_worker.web.security import (
    SESSION_COOKIE,
    csrf_token,
)
from tests.support.web import (
    ADMIN_KEY,
    app_client,
    csrf_of,
    from_peer,
    insert_job,
    job_rows,
)

ENQUEUE = "/api/admin/enqueue-stats-job"

JOBS = "/api/admin/background-jobs"


def admin_routes(job_id: str) -> list[tuple[str, str]]:
    return [
        ("POST", ENQUEUE),
        ("GET", ENQUEUE),
        ("GET", JOBS),
        ("GET", f"{JOBS}/{job_id}"),
        ("POST", f"{JOBS}/{job_id}/retry"),
    ]


def enqueue_body() -> dict[str, str]:
    return {"triggeredBy": "admin", "requestId": str(uuid.uuid4())}


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-key", f"Basic {ADMIN_KEY}", "Bearer", f"Bearer {ADMIN_KEY}x"],
)
async def test_every_admin_route_wants_the_key(db_url: str, authorization: str | None) -> None:
    job_id = insert_job(db_url, status="failed")
    headers = {"Authorization": authorization} if authorization else {}
    async with app_client(db_url, admin_api_key=ADMIN_KEY) as client:
        for method, url in admin_routes(job_id):
            response = await client.request(method, url, headers=headers, json=enqueue_body())
            assert response.status_code == 401, (method, url)
            data = response.json()
            assert data["success"] is False
            assert data["message"] == "Unauthorized"
            assert response.headers["www-authenticate"].startswith("Bearer")
    assert job_rows(db_url) == 1  # only the job inserted above: nothing enqueued
    async with app_client(db_url, admin_api_key=ADMIN_KEY) as client:
        job = (
            await client.get(f"{JOBS}/{job_id}", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
        ).json()["job"]
    assert job["status"] == "failed"  # and it was not retried


async def test_the_right_key_opens_every_admin_route(db_url: str) -> None:
    job_id = insert_job(db_url, status="failed")
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    async with app_client(db_url, admin_api_key=ADMIN_KEY) as client:
        for method, url in admin_routes(job_id):
            response = await client.request(method, url, headers=headers, json=enqueue_body())
            assert response.status_code == 200, (method, url, response.text)


async def test_probes_and_league_pages_need_no_key(db_url: str) -> None:
    async with app_client(db_url, admin_api_key=ADMIN_KEY) as client:
        for url in ("/healthz", "/metrics", "/stats", "/openapi.json"):
            assert (await client.get(url)).status_code == 200, url
        assert (await client.get("/readyz")).status_code in (200, 503)


async def test_pages_redirect_to_sign_in_and_a_session_opens_them(db_url: str) -> None:
    async with app_client(db_url, admin_api_key=ADMIN_KEY) as client:
        first = await client.get("/admin/info?status=failed")
        assert first.status_code == 303
        assert first.headers["location"] == "/admin/signin?next=/admin/info%3Fstatus%3Dfailed"
        assert (await client.get("/admin/info/jobs.json")).status_code == 401
        form = await client.get("/admin/signin")
        assert 'type="password"' in form.text

        wrong = await client.post("/admin/signin", data={"key": "guess", "next": "/admin/info"})
        assert wrong.status_code == 401
        assert "not right" in wrong.text
        assert SESSION_COOKIE not in wrong.cookies

        signed = await client.post(
            "/admin/signin", data={"key": ADMIN_KEY, "next": "/admin/info?status=failed"}
        )
        assert signed.status_code == 303
        assert signed.headers["location"] == "/admin/info?status=failed"
        cookie = signed.headers["set-cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie
        page = await client.get("/admin/info")
        assert page.status_code == 200
        assert "Background Job Status" in page.text
        assert 'name="csrf-token"' in page.text
        assert ADMIN_KEY not in page.text
        assert (await client.get("/admin/info/jobs.json")).status_code == 200

        out = await client.post("/admin/signout", data={"csrf": csrf_of(page.text)})
        assert out.status_code == 303
        client.cookies.clear()  # the browser drops the expired cookie
        assert (await client.get("/admin/info")).status_code == 303


async def test_signed_in_pages_call_the_api_with_the_csrf_token(db_url: str) -> None:
    async with app_client(db_url, admin_api_key=ADMIN_KEY) as client:
        await client.post("/admin/signin", data={"key": ADMIN_KEY})
        session = client.cookies[SESSION_COOKIE]
        assert (await client.get(JOBS)).status_code == 200  # reading needs no token
        without = await client.post(ENQUEUE, json=enqueue_body())
        forged = await client.post(ENQUEUE, json=enqueue_body(), headers={"X-CSRF-Token": "0" * 64})
        assert (without.status_code, forged.status_code) == (403, 403)
        assert job_rows(db_url) == 0
        good = await client.post(
            ENQUEUE,
            json=enqueue_body(),
            headers={"X-CSRF-Token": csrf_token(ADMIN_KEY, session)},
        )
        assert good.status_code == 200


@pytest.mark.parametrize(
    "target", ["//evil.example/x", "https://evil.example/", "\\\\evil", "/\t/evil.example"]
)
async def test_sign_in_never_redirects_off_site(db_url: str, target: str) -> None:
    async with app_client(db_url, admin_api_key=ADMIN_KEY) as client:
        response = await client.post("/admin/signin", data={"key": ADMIN_KEY, "next": target})
    assert response.headers["location"] == "/admin/info"


async def test_without_a_key_pages_and_api_are_open(db_url: str) -> None:
    async with app_client(db_url) as client:
        assert (await client.get("/admin/info")).status_code == 200
        assert (await client.get(JOBS)).status_code == 200
        assert (await client.post(ENQUEUE, json=enqueue_body())).status_code == 200


async def test_the_key_never_reaches_logs_or_pages(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with app_client(db_url, admin_api_key=ADMIN_KEY) as client:
        await client.post("/admin/signin", data={"key": ADMIN_KEY + "-typo"})
        await client.get(JOBS, headers={"Authorization": f"Bearer {ADMIN_KEY}-typo"})
        await client.post("/admin/signin", data={"key": ADMIN_KEY})
        pages = [await client.get(url) for url in ("/admin/info", "/stats", "/openapi.json")]
        pages.append(await client.get("/admin/info/jobs.json"))
    assert "wrong key" in caplog.text  # the attempts are logged...
    assert ADMIN_KEY not in caplog.text  # ...without the key
    for page in pages:
        assert ADMIN_KEY not in page.text


async def test_pages_carry_security_headers(db_url: str) -> None:
    async with app_client(db_url) as client:
        response = await client.get("/admin/info")
        api = await client.get(JOBS)
        stats = await client.get("/stats")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    # Admin answers are never kept by a browser or a shared cache; the league pages may be.
    assert response.headers["cache-control"] == api.headers["cache-control"] == "no-store"
    assert "cache-control" not in stats.headers
    assert "strict-transport-security" not in response.headers  # no https public URL


async def test_an_https_public_url_asks_browsers_for_https_only(db_url: str) -> None:
    async with app_client(db_url, public_url="https://capo.example.com") as client:
        response = await client.get("/stats", headers={"Host": "capo.example.com"})
    assert response.headers["strict-transport-security"] == "max-age=31536000"


async def test_wrong_keys_are_throttled_per_address_and_logged_once(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    right = {"Authorization": f"Bearer {ADMIN_KEY}"}
    async with app_client(db_url, admin_api_key=ADMIN_KEY, peer="192.0.2.7") as client:
        guesses = [
            await client.get(JOBS, headers={"Authorization": f"Bearer guess-{i}"})
            for i in range(40)
        ]
        during = await client.get(JOBS, headers=right)  # even the right key waits now
        async with from_peer(client, "192.0.2.8") as neighbour:
            elsewhere = await neighbour.get(JOBS, headers=right)
    statuses = [g.status_code for g in guesses]
    assert statuses == [401] * 5 + [429] * 35
    for answer in (guesses[5], during):
        assert answer.status_code == 429
        assert 1 <= int(answer.headers["retry-after"]) <= 60
        assert answer.json()["message"] == "Too many requests"
    assert elsewhere.status_code == 200  # another address is not affected
    about = [r for r in caplog.records if "192.0.2.7" in r.getMessage()]
    assert len(about) == 2, [r.getMessage() for r in about]  # the first failure, the block
    assert "5 wrong keys" in about[1].getMessage()


async def test_the_sign_in_form_is_throttled_with_the_api(db_url: str) -> None:
    async with app_client(db_url, admin_api_key=ADMIN_KEY, auth_failure_limit=3) as client:
        await client.get(JOBS, headers={"Authorization": "Bearer guess"})
        forms = [await client.post("/admin/signin", data={"key": f"guess-{i}"}) for i in range(3)]
        right = await client.post("/admin/signin", data={"key": ADMIN_KEY})
    assert [f.status_code for f in forms] == [401, 401, 429]
    assert right.status_code == 429 and SESSION_COOKIE not in right.cookies
    assert "Too many wrong keys" in right.text and right.headers["retry-after"].isdigit()


async def test_the_wait_ends_with_the_window(db_url: str) -> None:
    async with app_client(
        db_url, admin_api_key=ADMIN_KEY, auth_failure_limit=2, auth_failure_window_seconds=1
    ) as client:
        for _ in range(3):
            await client.get(JOBS, headers={"Authorization": "Bearer guess"})
        blocked = await client.get(JOBS, headers={"Authorization": f"Bearer {ADMIN_KEY}"})
        await asyncio.sleep(1.2)
        later = await client.get(JOBS, headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert (blocked.status_code, later.status_code) == (429, 200)


async def test_ipv6_neighbours_in_one_64_count_as_one_client(db_url: str) -> None:
    async with app_client(db_url, admin_api_key=ADMIN_KEY, auth_failure_limit=2) as client:
        answers = []
        for peer in ("2001:db8::1", "2001:db8::2", "2001:db8::3", "2001:db8:0:1::1"):
            async with from_peer(client, peer) as one:
                answers.append(
                    (await one.get(JOBS, headers={"Authorization": "Bearer guess"})).status_code
                )
    assert answers == [401, 401, 429, 401]


async def sign_in(client: httpx.AsyncClient) -> tuple[str, str]:
    """Sign in; the session cookie and the CSRF token of the admin page."""
    signed = await client.post("/admin/signin", data={"key": ADMIN_KEY})
    assert signed.status_code == 303
    page = await client.get("/admin/info")
    assert page.status_code == 200
    return client.cookies[SESSION_COOKIE], csrf_of(page.text)


async def opens(client: httpx.AsyncClient, cookie: str) -> bool:
    """Whether this cookie still opens the page, the page's feed and the API."""
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, cookie)
    answers = [
        (await client.get("/admin/info")).status_code,
        (await client.get("/admin/info/jobs.json")).status_code,
        (await client.get(JOBS)).status_code,
    ]
    assert answers in ([200, 200, 200], [303, 401, 401]), answers
    return answers[0] == 200


async def test_sign_out_ends_every_session_of_that_browser_copies_included(db_url: str) -> None:
    async with app_client(db_url, admin_api_key=ADMIN_KEY) as browser:
        earlier, _ = await sign_in(browser)
        copied, csrf = await sign_in(browser)  # signed in again: the same browser
        async with from_peer(browser, "127.0.0.1") as laptop:
            elsewhere, _ = await sign_in(laptop)
        out = await browser.post("/admin/signout", data={"csrf": csrf})
        assert out.status_code == 303 and out.headers["location"] == "/admin/signin"
        assert 'capo_admin_session=""' in out.headers["set-cookie"]
        assert not await opens(browser, copied)  # a copy taken before sign-out
        assert not await opens(browser, earlier)
        assert await opens(browser, elsewhere)  # another browser stays signed in


async def test_sign_out_everywhere_ends_every_session(db_url: str) -> None:
    async with app_client(db_url, admin_api_key=ADMIN_KEY) as browser:
        mine, csrf = await sign_in(browser)
        async with from_peer(browser, "127.0.0.1") as laptop:
            theirs, _ = await sign_in(laptop)
        page = (await browser.get("/admin/info")).text
        assert 'value="everywhere"' in page and "Sign out everywhere" in page
        out = await browser.post("/admin/signout", data={"csrf": csrf, "scope": "everywhere"})
        assert out.status_code == 303
        assert not await opens(browser, mine)
        assert not await opens(browser, theirs)
        browser.cookies.clear()
        again, _ = await sign_in(browser)  # signing in afterwards works as before
        assert await opens(browser, again)


async def test_sign_out_is_kept_in_the_database_for_every_process(db_url: str) -> None:
    async with (
        app_client(db_url, admin_api_key=ADMIN_KEY) as first,
        app_client(db_url, admin_api_key=ADMIN_KEY) as second,
    ):
        cookie, csrf = await sign_in(first)
        assert await opens(second, cookie)
        await first.post("/admin/signout", data={"csrf": csrf})
        assert not await opens(second, cookie)


async def test_sign_out_needs_the_pages_csrf_token(db_url: str) -> None:
    async with app_client(db_url, admin_api_key=ADMIN_KEY) as browser:
        cookie, _ = await sign_in(browser)
        for form in ({}, {"csrf": "0" * 64}, {"csrf": "0" * 64, "scope": "everywhere"}):
            refused = await browser.post("/admin/signout", data=form)
            assert refused.status_code == 403, form
        assert await opens(browser, cookie)
        bad_scope = await browser.post("/admin/signout", data={"csrf": "x", "scope": "all"})
        assert bad_scope.status_code == 400


@pytest.mark.parametrize(
    ("public_url", "secure"),
    [("https://capo.example.com", True), ("http://capo.example.com", False), (None, False)],
)
async def test_the_cookie_is_secure_when_the_public_url_is_https(
    db_url: str, public_url: str | None, secure: bool
) -> None:
    # The proxy's X-Forwarded-Proto is not trusted here: the public URL alone decides.
    async with app_client(
        db_url, admin_api_key=ADMIN_KEY, public_url=public_url, allowed_hosts="capo.example.com"
    ) as client:
        signed = await client.post(
            "/admin/signin", data={"key": ADMIN_KEY}, headers={"Host": "capo.example.com"}
        )
    cookie = signed.headers["set-cookie"]
    assert ("Secure" in cookie) is secure, cookie
