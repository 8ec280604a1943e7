"""Scenario 8: access to the admin API and pages, and secrets kept out of sight.

Promise: every admin route (found in /openapi.json, so a new route is
covered by itself) answers 401 without the key, with a wrong key, and with
the right key in the wrong place (query string, other headers, another
scheme, a cookie, the body); the admin pages send a stranger to sign in;
none of those requests changes the database. ADMIN_API_KEY,
INTERNAL_API_KEY and the database password never appear in the logs (at
DEBUG), the pages, the API's answers or the error messages.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.fault.figures import Figures
from tests.fault.harness import (
    database_dump,
    environment,
    free_port,
    start_server,
    start_worker,
    status_counts,
    stop_all,
    wait_for,
)
from tests.fault.webapp import InvalidationEndpoint
from tests.processes import Process, process_env
from tests.web.helpers import insert_job

ADMIN_KEY = "Adm1n-key-NEVER-shown-4c9e2b7d"
INTERNAL_KEY = "Int3rnal-key-NEVER-shown-81f0a6c3"


def with_password(db_url: str) -> tuple[str, str]:
    """`db_url` with a password, and that password (the test server trusts local users)."""
    given = conninfo_to_dict(db_url).get("password")
    if given:
        return db_url, str(given)
    password = "Db-pass-NEVER-shown-5e1d"
    return make_conninfo(db_url, password=password), password


def disguises() -> dict[str, dict[str, Any]]:
    """Requests without the key, with a wrong key, or with the key where it does not go."""
    basic = base64.b64encode(f"admin:{ADMIN_KEY}".encode()).decode()
    return {
        "no key": {},
        "wrong key": {"headers": {"Authorization": "Bearer not-the-key"}},
        "key with a character too many": {"headers": {"Authorization": f"Bearer {ADMIN_KEY}x"}},
        "key cut short": {"headers": {"Authorization": f"Bearer {ADMIN_KEY[:-1]}"}},
        "key without a scheme": {"headers": {"Authorization": ADMIN_KEY}},
        "key as Basic credentials": {"headers": {"Authorization": f"Basic {basic}"}},
        "key as a Token scheme": {"headers": {"Authorization": f"Token {ADMIN_KEY}"}},
        "key in X-API-Key": {"headers": {"X-API-Key": ADMIN_KEY}},
        "key in apikey (Supabase style)": {"headers": {"apikey": ADMIN_KEY}},
        "key in the query string": {"params": {"key": ADMIN_KEY, "api_key": ADMIN_KEY}},
        "key as the session cookie": {"cookies": {"capo_admin_session": ADMIN_KEY}},
        "key in the body": {"body": {"apiKey": ADMIN_KEY, "adminApiKey": ADMIN_KEY}},
    }


def admin_operations(url: str, job_id: str) -> list[tuple[str, str]]:
    schema = httpx.get(f"{url}/openapi.json", timeout=10).json()
    operations = [
        (method.upper(), path.replace("{id}", job_id))
        for path, item in schema["paths"].items()
        if path.startswith("/api/admin")
        for method in item
    ]
    assert len(operations) >= 5, operations
    return operations


def test_no_way_in_without_the_key_and_no_secret_shows(
    db_url: str,
    start: Callable[..., Process],
    tmp_path: Path,
    record_figures: Callable[[Figures], Path],
) -> None:
    failed = insert_job(db_url, status="failed", attempts=3, error="boom")
    secret_url, db_password = with_password(db_url)
    secrets = {"ADMIN_API_KEY": ADMIN_KEY, "INTERNAL_API_KEY": INTERNAL_KEY, "db": db_password}
    app = InvalidationEndpoint(INTERNAL_KEY, free_port())
    app.up()
    settings = {
        "ADMIN_API_KEY": ADMIN_KEY,
        "INTERNAL_API_KEY": INTERNAL_KEY,
        "CACHE_INVALIDATION_URL": app.url,
        "LOG_LEVEL": "DEBUG",
    }
    web, url = start_server(start, secret_url, "web", **settings)
    env = environment(db_url)
    operations = admin_operations(url, failed)
    before = database_dump(db_url)
    refused = 0
    wrong: list[str] = []
    seen: list[str] = []  # every body the service answered, for the secrets check

    with httpx.Client(base_url=url, timeout=30, follow_redirects=False) as client:
        for name, disguise in disguises().items():
            for method, path in operations:
                body = {"triggeredBy": "admin", "requestId": str(uuid.uuid4())}
                body.update(disguise.get("body", {}))
                client.cookies = httpx.Cookies(disguise.get("cookies"))
                response = client.request(
                    method,
                    path,
                    json=body if method == "POST" else None,
                    headers=disguise.get("headers"),
                    params=disguise.get("params"),
                )
                seen.append(response.text)
                data = response.json()
                if (
                    response.status_code != 401
                    or data.get("message") != "Unauthorized"
                    or not response.headers.get("www-authenticate", "").startswith("Bearer")
                ):
                    wrong.append(f"{name}: {method} {path}: {response.status_code} {data}")
                refused += 1
            for page in ("/admin/info", "/admin/info/jobs.json"):
                client.cookies = httpx.Cookies(disguise.get("cookies"))
                response = client.get(
                    page, headers=disguise.get("headers"), params=disguise.get("params")
                )
                seen.append(response.text)
                to_sign_in = response.status_code == 303 and response.headers[
                    "location"
                ].startswith("/admin/signin")
                if not (to_sign_in or response.status_code == 401) or failed in response.text:
                    wrong.append(f"{name}: GET {page}: {response.status_code}")
                refused += 1
        client.cookies = httpx.Cookies()
        signin = client.post("/admin/signin", data={"key": "not-the-key"})
        assert signin.status_code == 401 and "not right" in signin.text
        seen.append(signin.text)
    assert wrong == [], "\n".join(wrong)
    assert database_dump(db_url) == before, "a refused request changed the database"

    # The same secrets in use: a worker invalidating with INTERNAL_API_KEY, pages signed in.
    worker = start_worker(start, secret_url, "keeper", **settings)
    auth = {"Authorization": f"Bearer {ADMIN_KEY}"}
    with httpx.Client(base_url=url, timeout=30, follow_redirects=False) as client:
        job_id = client.post(
            "/api/admin/enqueue-stats-job",
            json={"triggeredBy": "admin", "requestId": "access-1"},
            headers=auth,
        ).json()["jobId"]
        wait_for(lambda: status_counts(db_url, [job_id])["completed"] == 1, 60, "the job")
        assert any(i.authorized for i in app.received)  # the internal key went where it belongs
        signed_in = client.post("/admin/signin", data={"key": ADMIN_KEY})
        assert signed_in.status_code == 303
        for page in ("/admin/info", "/admin/info/jobs.json", "/stats", "/metrics", "/readyz"):
            response = client.get(page)
            assert response.status_code in (200, 503), (page, response.status_code)
            seen.append(response.text)
        client.cookies.clear()
        for path in ("/openapi.json", f"/api/admin/background-jobs/{job_id}"):
            seen.append(client.get(path, headers=auth).text)
        seen.append(client.get("/api/admin/background-jobs?limit=500", headers=auth).text)
        seen.append(client.get(f"/api/admin/background-jobs/{uuid.uuid4()}", headers=auth).text)
    app.down()
    assert stop_all([web, worker]) == [0, 0]

    # One-shot commands: the configuration shown, and a database that is not there.
    env_all = {**settings, "DATABASE_URL": secret_url}
    outputs = [web.output, worker.output]
    for name, command, extra in (
        ("check-config", ["check-config"], {}),
        (
            "no-database",
            ["jobs", "list"],
            {"DATABASE_URL": secret_url.replace("dbname=", "dbname=nx")},
        ),
    ):
        proc = start(command, process_env(None, **{**env_all, **extra}), name)
        proc.wait(60)
        outputs.append(proc.output)
    assert "(set, hidden)" in outputs[2] and "does not exist" in outputs[3], outputs[3]

    leaks = [
        f"{which} in {where}"
        for which, secret in secrets.items()
        for where, text in (
            ("logs and command output", "\n".join(outputs)),
            ("answers", "\n".join(seen)),
        )
        if secret in text
    ]
    assert leaks == []
    assert "key=***" in web.output  # the access log did record the request, key hidden
    record_figures(
        Figures(
            scenario="access",
            run="quick",
            load=f"`web` + worker with ADMIN_API_KEY, INTERNAL_API_KEY and a database password; "
            f"{len(operations)} admin operations + 2 admin pages",
            faults=f"{len(disguises())} ways of asking without the key or with it in the wrong "
            "place",
            jobs_in=1,
            jobs_completed=1,
            lost=0,
            duplicated_at_once=None,
            stranded=None,
            recovery="–",
            details={
                "requests refused": f"{refused} (API: 401 with WWW-Authenticate; pages: "
                "sign-in redirect or 401)",
                "database after the refused requests": "identical (pg_dump before and after)",
                "secrets found in logs (DEBUG), command output, pages, answers": len(leaks),
                "answers searched": len(seen),
                "log and output lines searched": sum(o.count("\n") for o in outputs),
            },
            environment=env,
        )
    )
