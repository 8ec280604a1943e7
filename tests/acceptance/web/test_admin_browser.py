"""The admin page for a club with many jobs, in Chromium: short copyable ids and request
ids, older pages, a tenant column and filter, long errors kept inside their cell, and a
banner that follows the job it announced to its end."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.acceptance.web.conftest import WAIT_MS, shot, start_web
from tests.support.db import execute, query
from tests.support.processes import Process, free_port, process_env
from tests.support.web import TENANT_B, break_function, insert_job

pytestmark = pytest.mark.browser

JOBS = 30  # more than one page of 25
# A stack trace-like error with a 300-character "word": only wrapping anywhere keeps it in.
LONG_ERROR = "relation failed: " + "x" * 300 + " " + "detail " * 200


def _jobs(db_url: str) -> list[tuple[str, str]]:
    """(id, requestId) of every job, newest first."""
    rows = query(
        db_url,
        "SELECT id::text, job_payload ->> 'requestId' FROM background_job_status "
        "ORDER BY created_at DESC, id",
    )
    return [(str(r[0]), str(r[1])) for r in rows]


def _shown_ids(page: Any) -> list[str]:
    return [
        str(x)
        for x in page.eval_on_selector_all("tbody.job", "els => els.map(e => e.dataset.jobId)")
    ]


def _fits(page: Any, selector: str) -> bool:
    """Every element matched is no wider than its box: nothing sticks out of it."""
    return bool(
        page.eval_on_selector_all(
            selector, "els => els.every(e => e.scrollWidth <= e.clientWidth + 1)"
        )
    )


def test_admin_rows_ids_paging_tenants_and_long_errors(
    db_url: str, start: Callable[..., Process], browser: Any
) -> None:
    execute(db_url, "INSERT INTO tenants (tenant_id, name) VALUES (%s, 'club-b')", TENANT_B)
    for age in range(JOBS):
        insert_job(db_url, status="completed", age_seconds=100 + age)
    long_failed = insert_job(db_url, status="failed", error=LONG_ERROR, attempts=3)
    away = insert_job(db_url, status="completed", age_seconds=1)
    execute(db_url, "UPDATE background_job_status SET tenant_id = %s WHERE id = %s", TENANT_B, away)
    jobs = _jobs(db_url)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    start_web(start, db_url, port, CRON_SCHEDULE="off")

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
    page = context.new_page()
    page.goto(f"{url}/admin/info")
    page.wait_for_selector("tbody.job")

    # Each row: the short id (copyable whole) and the request id.
    assert _shown_ids(page) == [job_id for job_id, _ in jobs[:25]]
    for job_id, request_id in jobs[:3]:
        row = page.locator(f'tbody.job[data-job-id="{job_id}"] tr.job-row')
        assert row.locator(".job-id").inner_text().strip() == job_id[:8]
        assert request_id in (row.locator(".request-id").get_attribute("title") or "")
        assert request_id[:8] in row.locator(".request-id").inner_text()
    first = jobs[0][0]
    page.click(f'tbody.job[data-job-id="{first}"] button.copy-id')
    assert page.evaluate("navigator.clipboard.readText()") == first
    assert page.locator(f"#details-{first}").is_hidden()  # copying does not open the row

    # A tenant column when there is more than one club, and a filter by tenant.
    away_row = page.locator(f'tbody.job[data-job-id="{away}"] tr.job-row')
    assert away_row.locator('td[data-label="Tenant"]').inner_text().strip() == "club-b"
    assert page.locator("#jobs-table thead th", has_text="Tenant").count() == 1

    # The long error wraps inside its cell; the table stays inside the page.
    failed_cell = page.locator(f'tbody.job[data-job-id="{long_failed}"] .error-cell')
    assert failed_cell.bounding_box()["width"] < 500
    assert _fits(page, ".error-cell") and _fits(page, ".table-wrap")
    page.click(f'tbody.job[data-job-id="{long_failed}"] tr.job-row')
    assert _fits(page, f"#details-{long_failed} .details-grid")
    shot(page, "08-admin-ids-long-error")

    # Older jobs: page 2 holds the rest, and the way back.
    page.click("a#older-jobs")
    page.wait_for_url("**page=2**")
    page.wait_for_selector("tbody.job")
    assert _shown_ids(page) == [job_id for job_id, _ in jobs[25:]]
    assert page.locator("a#older-jobs").count() == 0
    page.click("a#newer-jobs")
    page.wait_for_function("() => !location.search.includes('page=2')")
    assert _shown_ids(page)[0] == first

    page.select_option("#job-tenant", "club-b")
    page.wait_for_function(
        "id => [...document.querySelectorAll('tbody.job')].map(e => e.dataset.jobId).join() === id",
        arg=away,
        timeout=WAIT_MS,
    )
    assert "job_tenant=club-b" in page.url or f"job_tenant={TENANT_B}" in page.url

    # On a phone the cards keep the long error inside too.
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    phone.goto(f"{url}/admin/info")
    phone.wait_for_selector("tbody.job")
    assert _fits(phone, ".table-wrap") and _fits(phone, "tbody.job td")
    card = phone.locator(f'tbody.job[data-job-id="{long_failed}"] .error-cell')
    assert card.bounding_box()["width"] <= 390
    shot(phone, "09-admin-phone-long-error")


def test_the_banner_follows_the_job_to_its_end(
    db_url: str, start: Callable[..., Process], browser: Any
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    common = {"POLL_INTERVAL_MS": "200", "MAX_ATTEMPTS": "1", "CRON_SCHEDULE": "off"}
    start_web(start, db_url, port, **common)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{url}/admin/info")
    # Every state the banner shows, in order.
    page.evaluate(
        """() => { window.__banner = [];
            new MutationObserver(() => {
              const b = document.getElementById('banner');
              const last = window.__banner[window.__banner.length - 1];
              const state = b.dataset.jobStatus || '';
              if (state && state !== last) window.__banner.push(state);
            }).observe(document.getElementById('banner'),
                       {attributes: true, childList: true, subtree: true}); }"""
    )

    page.click("#update-stats")
    page.wait_for_selector('#banner[data-job-status="queued"]', timeout=WAIT_MS)
    [(job_id,)] = query(db_url, "SELECT id::text FROM background_job_status")
    assert job_id[:8] in page.locator("#banner").inner_text()
    assert "queued" in page.locator("#banner").inner_text()

    worker = start(["worker"], process_env(db_url, **common), "worker")
    page.wait_for_selector('#banner[data-job-status="completed"]', timeout=WAIT_MS)
    text = page.locator("#banner").inner_text()
    assert job_id[:8] in text and "completed" in text, worker.output
    states = page.evaluate("window.__banner")
    assert states[0] == "queued" and states[-1] == "completed", states
    assert set(states) <= {"queued", "processing", "completed"}, states

    # A job that fails: the banner ends red, with the error.
    break_function(db_url, "update_power_ratings", "injected failure")
    page.click("#update-stats")
    page.wait_for_selector('#banner[data-job-status="failed"]', timeout=WAIT_MS)
    banner = page.locator("#banner")
    assert "banner-error" in (banner.get_attribute("class") or "")
    assert "1/10 stats functions failed" in banner.inner_text()
    shot(page, "10-admin-banner-failed")
