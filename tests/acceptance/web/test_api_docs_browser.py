"""The interactive API docs at /docs work offline: Chromium, with every address but this
server's blocked, shows the operations and runs one ("Try it out")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.acceptance.web.conftest import WAIT_MS, shot, start_web
from tests.support.processes import Process, free_port
from tests.support.web import ADMIN_KEY

pytestmark = pytest.mark.browser


def test_docs_load_with_the_outside_network_blocked(
    db_url: str, start: Callable[..., Process], browser: Any
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    start_web(start, db_url, port, ADMIN_API_KEY=ADMIN_KEY, CRON_SCHEDULE="off")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    outside: list[str] = []

    def only_this_server(route: Any) -> None:
        host = urlsplit(route.request.url)
        if (host.hostname, host.port) == ("127.0.0.1", port) or host.scheme == "data":
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_this_server)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))

    page.goto(f"{url}/docs")
    page.wait_for_selector(".opblock", timeout=WAIT_MS)
    text = page.locator("#swagger-ui").inner_text()
    for path in ("/api/admin/enqueue-stats-job", "/api/admin/background-jobs", "/healthz"):
        assert path in text, path
    assert page.locator("button.authorize").count() == 1  # the Bearer key can be entered

    # Try it out: the docs page calls the API (CSP and the request guard let it).
    health = page.locator(".opblock", has=page.locator('[data-path="/healthz"]'))
    health.locator(".opblock-summary").first.click()
    health.locator("button.try-out__btn").click()
    health.locator("button.execute").click()
    status = health.locator(".live-responses-table tr.response .response-col_status").first
    status.wait_for(timeout=WAIT_MS)
    assert status.inner_text().strip() == "200"
    shot(page, "11-api-docs")

    assert outside == [], outside
    assert problems == [], problems
