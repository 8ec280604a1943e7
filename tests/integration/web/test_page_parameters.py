"""Every query parameter of the pages is checked: a bad one is a 400 naming it, never a 500.

Schemathesis fuzzes the same parameters from /openapi.json
(tests/acceptance/web/test_schemathesis.py); these are the cases an attacker reported.
"""

from __future__ import annotations

import pytest

from tests.support.web import app_client

LONG = "x" * 201


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/stats?season=%C2%B2", "season"),  # superscript two: a digit to isdigit(), not to int()
        ("/stats?season=" + "9" * 5000, "season"),
        ("/stats?season=-1", "season"),
        ("/stats?season=2025.5", "season"),
        ("/stats?season=99999", "season"),
        (f"/stats?tenant={LONG}", "tenant"),
        ("/stats/tables/everything", "table"),
        ("/stats/tables/season?page=0", "page"),
        ("/stats/tables/season?page=" + "9" * 5000, "page"),
        ("/stats/tables/form?q=" + "x" * 51, "q"),
        ("/stats/tables/season?season=1066", "season"),
        ("/stats/players?page=-2", "page"),
        ("/stats/players?q=a%00b", "q"),
        ("/stats/players/x", "player_id"),
        ("/stats/players/99999999999", "player_id"),
        (f"/stats/honours?tenant={LONG}", "tenant"),
        ("/admin/info?status=done", "status"),
        ("/admin/info?trigger=manual", "trigger"),
        (f"/admin/info?tenant={LONG}", "tenant"),
        ("/admin/info/jobs.json?status=%00", "status"),
        ("/admin/info/jobs.json?trigger=" + "9" * 5000, "trigger"),
        (f"/admin/info/jobs.json?tenant={LONG}", "tenant"),
        ("/admin/signin?next=/" + "x" * 2000, "next"),
        ("/admin/info?page=0", "page"),
        ("/admin/info/jobs.json?page=10001", "page"),
        ("/admin/info?job_tenant=nobody", "job_tenant"),
        ("/admin/info/jobs.json?follow=not-a-job", "follow"),
    ],
)
async def test_a_bad_page_parameter_is_a_400_naming_it(db_url: str, url: str, field: str) -> None:
    async with app_client(db_url) as client:
        response = await client.get(url)
    assert response.status_code == 400, response.text[:300]
    data = response.json()
    assert data["success"] is False and data["field"] == field, data


@pytest.mark.parametrize(
    "url",
    [
        "/stats",
        "/stats?season=2026",
        "/stats?season=1999",  # no such season: the latest is shown
        "/stats?tenant=default",
        "/stats/tables/ratings?page=3&q=%25_",
        "/stats/tables/season?season=2026&q=a",
        "/stats/players?q=",
        "/stats/honours?tenant=default",
        "/admin/info?status=&trigger=",  # the filter form's "all"
        "/admin/info?status=failed&trigger=post-match&tenant=default",
        "/admin/info/jobs.json?status=queued&trigger=cron",
        "/admin/info?page=3&job_tenant=default",
        "/admin/info/jobs.json?job_tenant=&follow=00000000-0000-4000-8000-000000000001",
        "/admin/signin?next=/admin/info%3Fstatus%3Dfailed",
    ],
)
async def test_good_page_parameters_still_work(db_url: str, url: str) -> None:
    async with app_client(db_url) as client:
        response = await client.get(url)
    assert response.status_code in (200, 303), response.text[:300]
