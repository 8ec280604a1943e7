"""Scenario 8: access to the admin API and pages, and secrets kept out of sight.

Promise: every admin route (found in /openapi.json, so a new route is
covered by itself) answers 401 without the key, with a wrong key, and with
the right key in the wrong place (query string, other headers, another
scheme, a cookie, the body); the admin pages send a stranger to sign in;
none of those requests changes the database. Guessing the key is throttled
(429 after a handful of wrong keys from one address, two log lines however
many guesses). A signed-out session cookie is refused, copies included.
Other sites' pages can neither write (415 for a non-JSON body, 403 for a
foreign Origin) nor read through a rebound host name (421), with or without
a key. ADMIN_API_KEY, INTERNAL_API_KEY and the database password (in a
keyword DSN with quotes and spaces, a URL with '#' and '?', PGPASSWORD or a
password file) never appear in the logs (at DEBUG), the pages, the API's
answers or the error messages.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.acceptance.fault.figures import Figures
from tests.acceptance.fault.harness import (
    database_dump,
    environment,
    start_server,
    start_worker,
    status_counts,
    stop_all,
)
from tests.support.processes import Process, free_port, process_env
from tests.support.waiting import wait_for
from tests.support.web import insert_job
from tests.support.webapp import StandInWebApp

ADMIN_KEY = "Adm1n-key-NEVER-shown-4c9e2b7d"
INTERNAL_KEY = "Int3rnal-key-NEVER-shown-81f0a6c3"


# A password the old redaction cut after its first word: spaces, quotes, '#', '?', '@'.
DB_PASSWORD = "Db pass 'NEVER' #shown? @5e1d"
URL_PASSWORD = "Url-pass#NEVER?shown-77c2"  # '#' and '?' stay unescaped in the URL
ENV_PASSWORD = "Env-pass-NEVER-shown-3a9f"
PASSFILE_PASSWORD = "File-pass-NEVER-shown-b41e"


def with_password(db_url: str) -> tuple[str, str]:
    """`db_url` with a password, and that password (the test server trusts local users)."""
    given = conninfo_to_dict(db_url).get("password")
    if given:
        return db_url, str(given)
    return make_conninfo(db_url, password=DB_PASSWORD), DB_PASSWORD


def as_url(db_url: str, password: str) -> str:
    """`db_url` as a postgresql:// URL whose password is written as it is, unescaped."""
    params = {k: str(v) for k, v in conninfo_to_dict(db_url).items() if k != "password"}
    host = params.pop("host", "")
    port = params.pop("port", "")
    netloc = "" if host.startswith("/") else host + (f":{port}" if port else "")
    query = f"?host={host}" + (f"&port={port}" if port else "") if host.startswith("/") else ""
    user = params.get("user", "postgres")
    return f"postgresql://{user}:{password}@{netloc}/{params['dbname']}{query}"


def every_byte_escaped(text: str) -> str:
    return "".join(f"%{b:02X}" for b in text.encode())


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
        "key percent-encoded in the query": {"query": f"key={every_byte_escaped(ADMIN_KEY)}"},
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
    app = StandInWebApp(INTERNAL_KEY, free_port())
    app.up()
    settings = {
        "ADMIN_API_KEY": ADMIN_KEY,
        "INTERNAL_API_KEY": INTERNAL_KEY,
        "CACHE_INVALIDATION_URL": app.url,
        "LOG_LEVEL": "DEBUG",
        # Every disguise must get its own 401 here: guessing is throttled on its own server below.
        "AUTH_FAILURE_LIMIT": "1000",
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
                query = f"?{disguise['query']}" if "query" in disguise else ""
                response = client.request(
                    method,
                    path + query,
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
        # Other sites' pages, even with the key: refused before anything runs.
        wrong += other_sites(client, failed, {"Authorization": f"Bearer {ADMIN_KEY}"})
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
        # Signed out, the cookie is dead, copies included.
        copy = client.cookies["capo_admin_session"]
        page = client.get("/admin/info").text
        csrf = page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
        assert client.post("/admin/signout", data={"csrf": csrf}).status_code == 303
        client.cookies = httpx.Cookies({"capo_admin_session": copy})
        replayed = client.get("/admin/info")
        assert replayed.status_code == 303 and "/admin/signin" in replayed.headers["location"]
        assert client.get("/api/admin/background-jobs").status_code == 401
        client.cookies.clear()
        for path in ("/openapi.json", f"/api/admin/background-jobs/{job_id}"):
            seen.append(client.get(path, headers=auth).text)
        seen.append(client.get("/api/admin/background-jobs?limit=500", headers=auth).text)
        seen.append(client.get(f"/api/admin/background-jobs/{uuid.uuid4()}", headers=auth).text)
    app.down()
    assert stop_all([web, worker]) == [0, 0]

    guessing = guess_keys(start, secret_url)
    open_before = database_dump(db_url)
    opened, open_url = start_server(start, secret_url, "web", name="open")
    with httpx.Client(base_url=open_url, timeout=30, follow_redirects=False) as client:
        open_wrong = other_sites(client, failed, {})
    assert open_wrong == [], "\n".join(open_wrong)
    assert database_dump(db_url) == open_before, "a refused request changed the database"
    assert stop_all([opened]) == [0]

    # One-shot commands: the configuration shown (every form of a database password), and a
    # database that is not there.
    env_all = {**settings, "DATABASE_URL": secret_url}
    plain = make_conninfo(secret_url, password="")
    passfile = tmp_path / "pgpass"
    passfile.write_text(f"*:*:*:*:{PASSFILE_PASSWORD}\n")
    passfile.chmod(0o600)
    secrets.update(url=URL_PASSWORD, PGPASSWORD=ENV_PASSWORD, passfile=PASSFILE_PASSWORD)
    outputs = [web.output, worker.output, guessing.pop("output"), opened.output]
    for name, command, extra in (
        ("check-config", ["check-config"], {}),
        (
            "no-database",
            ["jobs", "list"],
            {"DATABASE_URL": secret_url.replace("dbname=", "dbname=nx")},
        ),
        ("url-form", ["check-config"], {"DATABASE_URL": as_url(secret_url, URL_PASSWORD)}),
        ("pgpassword", ["check-config"], {"DATABASE_URL": plain, "PGPASSWORD": ENV_PASSWORD}),
        ("passfile", ["check-config"], {"DATABASE_URL": plain, "PGPASSFILE": str(passfile)}),
        (
            "unescaped-at",
            ["check-config"],
            {"DATABASE_URL": "postgresql://capo:Url-pass@NEVER-shown-77c2@db.example.com/capo"},
        ),
    ):
        proc = start(command, process_env(None, **{**env_all, **extra}), name)
        proc.wait(60)
        outputs.append(proc.output)
    assert "(set, hidden)" in outputs[4] and "does not exist" in outputs[5], outputs[5]
    assert all("Database: reachable" in text for text in outputs[6:9]), outputs[6:9]
    assert "%40" in outputs[9] and "NEVER-shown-77c2" not in outputs[9], outputs[9]

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
    # The access log did record the requests, queries hidden.
    assert '"GET /api/admin/background-jobs?*** HTTP/1.1" 401' in web.output
    record_figures(
        Figures(
            scenario="access",
            run="quick",
            load=f"`web` + worker with ADMIN_API_KEY, INTERNAL_API_KEY and a database password; "
            f"{len(operations)} admin operations + 2 admin pages",
            faults=f"{len(disguises())} ways of asking without the key or with it in the wrong "
            f"place; {guessing['guesses']} guessed keys; other sites' pages (non-JSON bodies, "
            "foreign Origin, rebound Host) with and without a key; a replayed signed-out cookie",
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
                "guessing": f"{guessing['guesses']} wrong keys in {guessing['seconds']} s: "
                f"{guessing['refused_401']} x 401, then {guessing['throttled_429']} x 429 "
                f"(Retry-After {guessing['retry_after']} s, the right key too); "
                f"{guessing['log_lines']} log lines about them",
                "other sites' pages": "415 (text/plain, form), 403 (foreign Origin), 421 "
                "(rebound Host), with and without ADMIN_API_KEY; database identical",
                "signed-out cookie replayed": "refused (sign-in redirect, 401)",
                "database password forms": "keyword DSN with quotes/spaces/#/?/@, URL with "
                "unescaped # and ?, PGPASSWORD, password file; unescaped @ refused at start-up",
                "answers searched": len(seen),
                "log and output lines searched": sum(o.count("\n") for o in outputs),
            },
            environment=env,
        )
    )


def other_sites(client: httpx.Client, failed: str, auth: dict[str, str]) -> list[str]:
    """What another site's page (or a rebound host name) can send; what got through."""
    body = {"triggeredBy": "admin", "requestId": str(uuid.uuid4())}
    attempts = {
        "text/plain body": client.post(
            "/api/admin/enqueue-stats-job",
            content=json.dumps(body),
            headers={**auth, "Content-Type": "text/plain"},
        ),
        "form body": client.post(
            f"/api/admin/background-jobs/{failed}/retry",
            content=b"x=1",
            headers={**auth, "Content-Type": "application/x-www-form-urlencoded"},
        ),
        "foreign Origin": client.post(
            "/api/admin/enqueue-stats-job",
            json=body,
            headers={**auth, "Origin": "https://attacker.example"},
        ),
        "foreign Origin on sign-in": client.post(
            "/admin/signin", data={"key": ADMIN_KEY}, headers={"Origin": "null"}
        ),
        "rebound Host": client.get(
            "/api/admin/background-jobs", headers={**auth, "Host": "rebind.attacker.example"}
        ),
    }
    wanted = {"text/plain body": 415, "form body": 415, "rebound Host": 421}
    return [
        f"{name}: {response.status_code} {response.text[:200]}"
        for name, response in attempts.items()
        if response.status_code != wanted.get(name, 403) or failed in response.text
    ]


GUESSES = 1000


def guess_keys(start: Callable[..., Process], db_url: str) -> dict[str, Any]:
    """1,000 wrong keys from one address at a `web` with the default limits, then the right one."""
    web, url = start_server(start, db_url, "web", name="guessed", ADMIN_API_KEY=ADMIN_KEY)
    began = time.monotonic()
    statuses: Counter[int] = Counter()
    with httpx.Client(base_url=url, timeout=30) as client:
        for i in range(GUESSES):
            response = client.get(
                "/api/admin/background-jobs", headers={"Authorization": f"Bearer guess-{i}"}
            )
            statuses[response.status_code] += 1
        right = client.get(
            "/api/admin/background-jobs", headers={"Authorization": f"Bearer {ADMIN_KEY}"}
        )
    seconds = round(time.monotonic() - began, 1)
    assert stop_all([web]) == [0]
    log_lines = [line for line in web.output.splitlines() if "wrong key" in line]
    assert statuses == Counter({401: 5, 429: GUESSES - 5}), statuses
    assert right.status_code == 429 and 1 <= int(right.headers["retry-after"]) <= 60
    assert len(log_lines) == 2, log_lines
    return {
        "guesses": GUESSES,
        "seconds": seconds,
        "refused_401": statuses[401],
        "throttled_429": statuses[429],
        "retry_after": right.headers["retry-after"],
        "log_lines": len(log_lines),
        "output": web.output,
    }
