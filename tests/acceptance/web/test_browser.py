"""The admin page and the league page in Debian's chromium, driven by Playwright.

Sign in, press "Update stats" and watch the job go from queued to completed
without a reload; break a stats function so the next job fails, restore it,
press Retry and watch the same job complete; then check the league page draws
its season table and the race chart. Screenshots go to test-output/screenshots/.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.acceptance.web.conftest import WAIT_MS, shot
from tests.support.leagues import load_fixture
from tests.support.processes import Process, free_port, process_env
from tests.support.waiting import wait_for
from tests.support.web import ADMIN_KEY, break_function, http_ok, pin_today, restore_function

BROKEN = "update_aggregated_recent_performance"

pytestmark = pytest.mark.browser


@pytest.fixture
def league_db(db_url: str) -> str:
    """The small fixture league, with "today" pinned to its date for every session."""
    load_fixture(db_url, "small")
    pin_today(db_url, "2026-11-28")
    return db_url


def newest_job(page: Any) -> str:
    page.wait_for_selector("tbody.job", timeout=WAIT_MS)
    return str(page.locator("tbody.job").first.get_attribute("data-job-id"))


def wait_status(page: Any, job_id: str, status: str) -> None:
    page.wait_for_selector(
        f'tbody.job[data-job-id="{job_id}"][data-status="{status}"]', timeout=WAIT_MS
    )


def test_admin_page_follows_jobs_live_and_retries_and_the_league_page_draws(
    league_db: str, start: Callable[..., Process], browser: Any
) -> None:
    db_url = league_db
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    common = {"POLL_INTERVAL_MS": "200", "MAX_ATTEMPTS": "1", "CRON_SCHEDULE": "off"}
    web_env = process_env(db_url, PORT=str(port), ADMIN_API_KEY=ADMIN_KEY, **common)
    web = start(["web"], web_env, "web")
    wait_for(lambda: http_ok(f"{url}/healthz") or web.popen.poll() is not None, 60, "web")
    assert web.popen.poll() is None, web.output

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{url}/admin/info")
    assert "/admin/signin" in page.url
    page.fill("#key", ADMIN_KEY)
    page.click("button[type=submit]")
    page.wait_for_selector("text=Background Job Status")
    assert page.locator("text=No background jobs found").is_visible()
    shot(page, "01-admin-empty")
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads

    # Update stats: the job appears queued (no worker runs yet)...
    page.click("#update-stats")
    first = newest_job(page)
    wait_status(page, first, "queued")
    assert page.locator(f'tbody.job[data-job-id="{first}"] .pill.status-queued').is_visible()
    shot(page, "02-job-queued")
    # ...then a worker starts, and the page shows it completed, without reloading.
    start(["worker"], process_env(db_url, WORKER_ID="browser-worker", **common), "worker")
    wait_status(page, first, "completed")
    assert page.evaluate("window.__sameDocument") is True
    assert "season_stats" in page.locator("#cache-stamps").inner_text()  # refreshed too
    page.click(f'tbody.job[data-job-id="{first}"] tr.job-row')
    details = page.locator(f"#details-{first}")
    assert details.is_visible()
    assert details.locator(".fn-pill-success").count() == 10
    shot(page, "03-job-completed")

    # A job that fails: one stats function raises.
    break_function(db_url, BROKEN, "injected failure")
    page.click("#update-stats")
    page.wait_for_function(
        "id => document.querySelector('tbody.job').dataset.jobId !== id",
        arg=first,
        timeout=WAIT_MS,
    )
    failed = newest_job(page)
    wait_status(page, failed, "failed")
    row = page.locator(f'tbody.job[data-job-id="{failed}"]')
    assert "1/10 stats functions failed" in row.locator(".error-cell").inner_text()
    shot(page, "04-job-failed")

    # Restore the function, press Retry: the same job runs again and completes.
    restore_function(db_url, BROKEN)
    row.locator("button.retry").click()
    wait_status(page, failed, "completed")
    assert page.locator(f'tbody.job[data-job-id="{failed}"] button.retry').count() == 0
    assert "(Retry 1)" in page.locator(f'tbody.job[data-job-id="{failed}"]').inner_text()
    assert page.evaluate("window.__sameDocument") is True
    shot(page, "05-job-retried")

    phone = browser.new_page(viewport={"width": 390, "height": 844})
    phone.context.add_cookies(page.context.cookies())
    phone.goto(f"{url}/admin/info")
    phone.wait_for_selector("tbody.job")
    shot(phone, "06-admin-phone")

    page.goto(f"{url}/stats")
    season_rows = page.locator("#season-table tbody tr")
    assert season_rows.count() > 5
    assert page.locator("#season-table tbody tr .form span").count() > 0
    lines = page.locator("svg.race-chart polyline")
    assert lines.count() >= 2
    assert page.locator("svg.race-chart").first.bounding_box()["width"] > 200
    first_name = season_rows.first.locator("td").nth(1).inner_text()
    page.click("#season-table th:nth-child(2) button")  # sort by player name
    names = [season_rows.nth(i).locator("td").nth(1).inner_text() for i in range(3)]
    assert names == sorted(names)
    assert first_name  # the table had a leader before sorting
    shot(page, "07-league-stats")

    # Sign out on the phone: its cookie was a copy of the desktop's, so both are signed out.
    phone.goto(f"{url}/admin/info")
    phone.click("button[name=scope][value=browser]")
    phone.wait_for_url("**/admin/signin")
    page.goto(f"{url}/admin/info")
    assert "/admin/signin" in page.url
    # Signed in again, "Sign out everywhere" from the league page ends that session too.
    page.fill("#key", ADMIN_KEY)
    page.click("button[type=submit]")
    page.wait_for_selector("text=Background Job Status")
    page.goto(f"{url}/stats")
    page.click("button[name=scope][value=everywhere]")
    page.wait_for_url("**/admin/signin")
    page.goto(f"{url}/admin/info")
    assert "/admin/signin" in page.url
