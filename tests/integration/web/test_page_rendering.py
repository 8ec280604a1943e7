"""Templating a league page does not hold the event loop: a worker sharing the process
(`capo-worker run`) keeps beating while a big page is rendered.

The test holds the render of /stats inside the template (it waits on an event) and
checks that the loop still answers /healthz meanwhile; rendered on the loop, /healthz
would wait until the page was done.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import jinja2
import pytest

from tests.support.web import app_client

HOLD_LIMIT_S = 20  # only so a regression fails instead of hanging


async def test_a_page_being_rendered_does_not_hold_the_loop(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rendering = threading.Event()
    release = threading.Event()
    released_by_the_test: list[bool] = []
    original = jinja2.Template.render

    def held_render(self: jinja2.Template, *args: Any, **kwargs: Any) -> str:
        if self.name == "stats.html":
            rendering.set()
            released_by_the_test.append(release.wait(HOLD_LIMIT_S))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(jinja2.Template, "render", held_render)
    async with app_client(db_url) as client:
        page = asyncio.create_task(client.get("/stats"))
        assert await asyncio.to_thread(rendering.wait, HOLD_LIMIT_S)
        health = await client.get("/healthz")  # answered while the page is held
        release.set()
        answer = await page
    assert health.status_code == 200
    # Rendered on the loop, /healthz would have waited for the hold to time out.
    assert released_by_the_test == [True]
    assert answer.status_code == 200 and "League stats" in answer.text
