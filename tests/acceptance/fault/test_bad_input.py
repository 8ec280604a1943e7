"""Scenario 7: bad input to every API route of a real `capo-worker web`.

Promise: each bad request gets a 4xx whose JSON body says what is wrong (and
names the field when one is at fault), and the database is exactly as it was
(a pg_dump before and after compare equal). Strings full of SQL
metacharacters and unusual Unicode are not bad input where free text is
allowed: they are stored verbatim and break nothing. Schema-driven fuzzing
of every operation (schemathesis, no 5xx) is tests/acceptance/web/test_schemathesis.py.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.acceptance.fault.figures import Figures
from tests.acceptance.fault.harness import database_dump, environment, start_server
from tests.support.db import query
from tests.support.processes import Process
from tests.support.web import insert_job

KEY = "admin-key-for-the-bad-input-scenario"
ENQUEUE = "/api/admin/enqueue-stats-job"
JOBS = "/api/admin/background-jobs"

# Text no SQL string may break on: quotes, comment and statement separators, a
# backslash, LIKE wildcards, a dollar quote, right-to-left and combining marks,
# an emoji, a CJK character and a zero-width joiner.
NASTY = "Robert'); DROP TABLE background_job_status; -- \\ %_ $$ \u202e\u0301 💥 球 a\u200db"


@dataclass
class Case:
    name: str
    method: str
    path: str
    status: int
    culprit: str | None = None  # the field the error must name
    says: str = ""  # a phrase the error must contain
    body: Any = None  # JSON-encoded unless bytes
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] | None = None

    def send(self, client: httpx.Client) -> httpx.Response:
        # bytes and iterators (streamed, no Content-Length) are sent as they are
        raw = isinstance(self.body, (bytes, Iterator))
        content = self.body if raw else json.dumps(self.body).encode()
        headers = {"Content-Type": "application/json", **self.headers}
        return client.request(
            self.method, self.path, content=content, headers=headers, params=self.params
        )


def enqueue(name: str, body: Any, culprit: str | None, says: str = "", status: int = 400) -> Case:
    return Case(name, "POST", ENQUEUE, status, culprit, says, body)


def good(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"triggeredBy": "admin", "requestId": str(uuid.uuid4())}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not ...}


def cases(failed: str, running: str, queued: str, completed: str) -> list[Case]:
    unknown = str(uuid.uuid4())
    return [
        # Malformed JSON and bodies that are not an object.
        enqueue("truncated JSON", b'{"triggeredBy": "admin", ', "body", "Invalid JSON"),
        enqueue("single quotes", b"{'triggeredBy': 'admin'}", "body", "Invalid JSON"),
        enqueue("trailing garbage", b'{"triggeredBy":"admin","requestId":"x"} x', "body"),
        enqueue("NaN", b'{"triggeredBy":"admin","requestId":"x","matchId":NaN}', "body"),
        enqueue("not UTF-8", b'{"triggeredBy":"admin","requestId":"\xff\xfe"}', "body", "UTF-8"),
        enqueue("empty body", b"", "body", "empty"),
        enqueue("an array", [good()], "body", "JSON object"),
        enqueue("a string", "admin", "body", "JSON object"),
        enqueue("null", b"null", "body", "JSON object"),
        enqueue("5,000 nested arrays", b"[" * 5000 + b"]" * 5000, "body"),
        enqueue(
            "40 nested arrays in a field", good(extra=json.loads("[" * 40 + "]" * 40)), "extra"
        ),
        # Missing fields.
        enqueue("no fields", {}, "triggeredBy", "Missing required field"),
        enqueue("no requestId", good(requestId=...), "requestId", "requestId"),
        enqueue("no triggeredBy", good(triggeredBy=...), "triggeredBy", "triggeredBy"),
        enqueue("empty requestId", good(requestId=""), "requestId"),
        # Wrong types.
        enqueue("triggeredBy a number", good(triggeredBy=1), "triggeredBy"),
        enqueue("requestId a number", good(requestId=123), "requestId", "must be a string"),
        enqueue("requestId an object", good(requestId={"a": 1}), "requestId"),
        enqueue("matchId a string", good(matchId="57"), "matchId", "integer"),
        enqueue("matchId a fraction", good(matchId=1.5), "matchId", "integer"),
        enqueue("matchId a boolean", good(matchId=True), "matchId", "integer"),
        enqueue("userId an array", good(userId=["x"]), "userId", "must be a string"),
        enqueue("tenantId a number", good(tenantId=7), "tenantId"),
        enqueue("retryOf a number", good(retryOf=7), "retryOf"),
        enqueue("timestamp a number", good(timestamp=1732800000), "timestamp"),
        # Unknown triggers.
        enqueue("trigger in capitals", good(triggeredBy="Admin"), "triggeredBy", "Must be one of"),
        enqueue("unknown trigger", good(triggeredBy="manual"), "triggeredBy", "Must be one of"),
        enqueue("trigger with SQL", good(triggeredBy="admin' OR '1'='1"), "triggeredBy"),
        # Oversized bodies: declared, and streamed without a length.
        enqueue("70 kB body", good(userId="x" * 70_000), None, "too large", 413),
        Case(
            "70 kB streamed",
            "POST",
            ENQUEUE,
            413,
            None,
            "too large",
            iter([json.dumps(good(pad="x" * 70_000)).encode()]),
        ),
        enqueue("requestId over 200 characters", good(requestId="r" * 201), "requestId"),
        # Metacharacters and odd Unicode where the value must be something specific.
        enqueue("tenantId with SQL and Unicode", good(tenantId=NASTY), "tenantId", "Unknown"),
        enqueue("retryOf with SQL", good(retryOf=NASTY), "retryOf", "UUID"),
        enqueue("timestamp with SQL", good(timestamp=NASTY), "timestamp", "ISO-8601"),
        enqueue("NUL in requestId", good(requestId="a\u0000b"), "requestId", "NUL"),
        enqueue(
            "lone surrogate in userId",
            b'{"triggeredBy":"admin","requestId":"r","userId":"\\ud800"}',
            "userId",
            "surrogate",
        ),
        # Negative and huge ids.
        enqueue("matchId 2^31", good(matchId=2**31), "matchId", "out of range"),
        enqueue("matchId 2^63", good(matchId=2**63), "matchId", "out of range"),
        enqueue("matchId 0", good(matchId=0), "matchId", "out of range"),
        enqueue("matchId -1", good(matchId=-1), "matchId", "out of range"),
        enqueue(
            "matchId 1e400", b'{"triggeredBy":"admin","requestId":"r","matchId":1e400}', "matchId"
        ),
        Case("job id -1", "GET", f"{JOBS}/-1", 400, "id", "not a job id"),
        Case("job id 2^70", "GET", f"{JOBS}/{2**70}", 400, "id", "not a job id"),
        Case("job id with SQL", "GET", f"{JOBS}/1' OR '1'='1", 400, "id"),
        Case("retry id with SQL", "POST", f"{JOBS}/x;DROP TABLE tenants/retry", 400, "id"),
        Case("limit -1", "GET", JOBS, 400, "limit", params={"limit": "-1"}),
        Case("limit 0", "GET", JOBS, 400, "limit", params={"limit": "0"}),
        Case("limit 10^30", "GET", JOBS, 400, "limit", params={"limit": str(10**30)}),
        Case("limit text", "GET", JOBS, 400, "limit", params={"limit": "ten"}),
        Case("status unknown", "GET", JOBS, 400, "status", params={"status": "done"}),
        Case("trigger with SQL", "GET", JOBS, 400, "trigger", params={"trigger": NASTY}),
        # Unknown jobs, and retries of jobs that are not failed.
        Case("unknown job", "GET", f"{JOBS}/{unknown}", 404, "id", "No job"),
        Case("retry of an unknown job", "POST", f"{JOBS}/{unknown}/retry", 404, "id"),
        Case("retry of a running job", "POST", f"{JOBS}/{running}/retry", 409, "id", "processing"),
        Case("retry of a queued job", "POST", f"{JOBS}/{queued}/retry", 409, "id", "queued"),
        Case("retry of a completed job", "POST", f"{JOBS}/{completed}/retry", 409, "id"),
        # Dates that do not exist, and unknown fields too large to be served every 2 s.
        enqueue("timestamp month 13", good(timestamp="2026-13-45T99:99:99Z"), "timestamp"),
        enqueue("timestamp 30 February", good(timestamp="2026-02-30T12:00:00Z"), "timestamp"),
        enqueue(
            "unknown fields over 1 kB", good(note="n" * 600, pad="p" * 700), "pad", "1024 bytes"
        ),
        # Bodies that are not JSON: what a cross-site form sends.
        Case(
            "text/plain body",
            "POST",
            ENQUEUE,
            415,
            None,
            "application/json",
            good(),
            headers={"Content-Type": "text/plain"},
        ),
        Case(
            "form body",
            "POST",
            f"{JOBS}/{failed}/retry",
            415,
            None,
            "application/json",
            b"x=1",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ),
        # Page parameters: 4xx, never a traceback.
        Case("season ²", "GET", "/stats", 400, "season", params={"season": "\u00b2"}),
        Case("season 5,000 digits", "GET", "/stats", 400, "season", params={"season": "9" * 5000}),
        Case("tenant 300 characters", "GET", "/stats", 400, "tenant", params={"tenant": "t" * 300}),
        Case("admin status unknown", "GET", "/admin/info", 400, "status", params={"status": "x"}),
        Case(
            "admin feed trigger unknown",
            "GET",
            "/admin/info/jobs.json",
            400,
            "trigger",
            params={"trigger": NASTY},
        ),
        Case(
            "sign-in next too long",
            "GET",
            "/admin/signin",
            400,
            "next",
            params={"next": "/" + "n" * 3000},
        ),
        # Wrong methods on real routes.
        Case("DELETE a job", "DELETE", f"{JOBS}/{failed}", 405, None),
        Case("GET a retry", "GET", f"{JOBS}/{failed}/retry", 405, None),
    ]


def test_bad_requests_get_a_clear_4xx_and_change_nothing(
    db_url: str, start: Callable[..., Process], record_figures: Callable[[Figures], Path]
) -> None:
    failed = insert_job(db_url, status="failed", attempts=3, error="boom")
    running = insert_job(db_url, status="processing", attempts=1)
    queued = insert_job(db_url, status="queued")
    completed = insert_job(db_url, status="completed", attempts=1)
    query(
        db_url,
        "UPDATE background_job_status SET locked_by = 'elsewhere', "
        "lease_expires_at = now() + interval '1 hour' WHERE id = %s RETURNING id",
        running,
    )
    web, url = start_server(start, db_url, "web", ADMIN_API_KEY=KEY)
    env = environment(db_url)
    before = database_dump(db_url)
    assert failed in before and running in before  # the dump has the rows
    auth = {"Authorization": f"Bearer {KEY}"}
    wrong: list[str] = []
    answered: Counter[int] = Counter()
    all_cases = cases(failed, running, queued, completed)
    with httpx.Client(base_url=url, headers=auth, timeout=30) as client:
        for case in all_cases:
            response = case.send(client)
            answered[response.status_code] += 1
            try:
                data = response.json()
            except ValueError:
                wrong.append(f"{case.name}: not JSON: {response.text[:200]!r}")
                continue
            problems = []
            if response.status_code != case.status:
                problems.append(f"status {response.status_code}, wanted {case.status}")
            if data.get("success") is not False or not data.get("error") or not data.get("message"):
                problems.append("no success/error/message")
            if case.culprit is not None and data.get("field") != case.culprit:
                problems.append(f"field {data.get('field')!r}, wanted {case.culprit!r}")
            if case.says.lower() not in str(data.get("error", "")).lower():
                problems.append(f"error does not say {case.says!r}")
            if problems:
                wrong.append(f"{case.name}: {'; '.join(problems)}: {data}")
    assert wrong == [], "\n".join(wrong)
    assert database_dump(db_url) == before, "a rejected request changed the database"

    # Free-text fields take anything storable: stored verbatim, nothing else touched.
    nasty = good(requestId=NASTY, userId=NASTY, tenantId="default", matchId=57, note=NASTY)
    with httpx.Client(base_url=url, headers=auth, timeout=30) as client:
        accepted = client.post(ENQUEUE, json=nasty)
        assert accepted.status_code == 200, accepted.text
        job = client.get(f"{JOBS}/{accepted.json()['jobId']}").json()["job"]
    payload = job["job_payload"]
    if payload.get("requestId") == NASTY:  # a job of its own: the payload as sent
        stored = {k: payload[k] for k in ("requestId", "userId", "note", "matchId")}
        assert stored == {"requestId": NASTY, "userId": NASTY, "note": NASTY, "matchId": 57}
    else:  # it joined the queued job of its tenant, which names it
        assert NASTY in payload["coalescedRequestIds"]
    recorded = query(
        db_url,
        "SELECT user_id, match_id FROM background_job_requests WHERE request_id = %s",
        NASTY,
    )
    assert recorded == [(NASTY, 57)]
    tables = query(db_url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
    assert tables[0][0] > 10  # every table is still there
    assert "Traceback" not in web.output

    record_figures(
        Figures(
            scenario="bad-input",
            run="quick",
            load="1 `capo-worker web` with ADMIN_API_KEY; 4 jobs in the table",
            faults=f"{len(all_cases)} bad requests",
            jobs_in=None,
            jobs_completed=None,
            lost=0,
            duplicated_at_once=None,
            stranded=None,
            recovery="–",
            details={
                "answers": ", ".join(f"{n} x {s}" for s, n in sorted(answered.items())),
                "answers with a wrong status, no JSON error or no field": len(wrong),
                "database after the bad requests": "identical (pg_dump before and after)",
                "SQL metacharacters and Unicode in free-text fields": "accepted, stored verbatim",
                "kinds": "malformed JSON, non-objects, missing fields, wrong types, unknown "
                "triggers, bodies over 64 kB (declared and streamed), SQL and Unicode in "
                "checked fields, negative and huge ids and limits, dates that do not exist, "
                "unknown fields over 1 kB, bodies that are not JSON, bad page parameters, "
                "unknown jobs, retries of running/queued/completed jobs, wrong methods",
            },
            environment=env,
        )
    )
