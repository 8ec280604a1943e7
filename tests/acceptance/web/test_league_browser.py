"""The league pages of the large league (1,324 players) in chromium, on a desktop and a phone.

A short page with the top of each table; "Show all" pages through a whole table;
the search finds a player and his name leads to his page; the race chart draws
each player in his own colour with a dot per match day; on a phone the player
column stays in view while a wide table scrolls sideways.
Screenshots go to test-output/screenshots/.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from capo_worker.web.league_pages import PAGE_SIZE, TOP
from tests.acceptance.web.conftest import shot
from tests.support.db import query
from tests.support.league_pages import large_league_with_stats
from tests.support.processes import Process, free_port, process_env
from tests.support.waiting import wait_for
from tests.support.web import http_ok

pytestmark = pytest.mark.browser

OLD_HEIGHT_PX = 87_700  # the large league's /stats before it showed only the top of each table


@pytest.fixture
def large_db(db_url: str) -> str:
    asyncio.run(large_league_with_stats(db_url))
    return db_url


def serve(db_url: str, start: Callable[..., Process]) -> str:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    web = start(["web"], process_env(db_url, PORT=str(port), CRON_SCHEDULE="off"), "web")
    wait_for(lambda: http_ok(f"{url}/healthz") or web.popen.poll() is not None, 60, "web")
    assert web.popen.poll() is None, web.output
    return url


def test_the_large_league_on_a_desktop(
    large_db: str,
    start: Callable[..., Process],
    browser: Any,
) -> None:
    url = serve(large_db, start)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{url}/stats")
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height < OLD_HEIGHT_PX / 5, height
    season = page.locator("#season-table tbody tr")
    assert season.count() == TOP
    shot(page, "12-large-league-stats")

    # Each player of a race chart has his own colour, and a dot per match day.
    for chart in ("#race-whole_season", "#race-current_half"):
        strokes = page.eval_on_selector_all(
            f"{chart} polyline.series", "els => els.map(e => getComputedStyle(e).stroke)"
        )
        assert len(strokes) >= 2 and len(set(strokes)) == len(strokes), strokes
        fills = page.eval_on_selector_all(
            f"{chart} g.player",
            "gs => gs.map(g => getComputedStyle(g.querySelector('.point')).fill)",
        )
        assert fills == strokes  # the dots wear their line's colour
    dot = page.locator("#race-whole_season circle.point").nth(3)
    dot.hover()
    assert " points" in str(dot.locator("title").text_content())

    # "Show all" pages through the whole season table.
    total = query(
        large_db,
        """SELECT count(*) FROM aggregated_season_stats s JOIN players p USING (player_id)
           WHERE NOT p.is_ringer AND extract(year FROM s.season_start_date) = 2026""",
    )[0][0]
    page.click("#season .show-all-link")
    page.wait_for_url("**/stats/tables/season**")
    assert page.locator("#season-table tbody tr").count() == min(PAGE_SIZE, total)
    page.click("a[rel=next]")
    page.wait_for_url("**page=2**")
    first_rank = page.locator("#season-table tbody tr").first.locator("td").first.inner_text()
    assert first_rank == str(PAGE_SIZE + 1)
    shot(page, "13-large-season-page-2")

    # The search finds a player; his name leads to his page.
    name, player_id = query(
        large_db,
        """SELECT p.name, p.player_id FROM aggregated_player_profile_stats a
           JOIN players p USING (player_id)
           ORDER BY json_array_length(a.teammate_chemistry_all) DESC LIMIT 1""",
    )[0]
    page.goto(f"{url}/stats")
    page.fill("#player-search input[name=q]", name)
    page.click("#player-search button")
    page.wait_for_url("**/stats/players?**")
    page.click(f'#players-table a[href="/stats/players/{player_id}"]')
    page.wait_for_url(f"**/stats/players/{player_id}")
    assert page.locator("h1").inner_text().startswith(name)
    assert page.locator("#yearly-table tbody tr").count() > 0
    assert page.locator("#chemistry-table tbody tr a").count() > 0
    shot(page, "14-large-player")
    page.locator("#chemistry-table tbody tr a").first.click()  # a teammate's page
    page.wait_for_url("**/stats/players/*")
    assert "/stats/players/" in page.url and page.locator("#profile h1").is_visible()


def test_the_large_league_on_a_phone(
    large_db: str,
    start: Callable[..., Process],
    browser: Any,
) -> None:
    url = serve(large_db, start)
    phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
    phone.goto(f"{url}/stats")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways page
    wrap = phone.locator("#season .table-wrap")
    wrap.scroll_into_view_if_needed()
    player = phone.locator("#season-table tbody tr").first.locator("td.player")
    rank = phone.locator("#season-table tbody tr").first.locator("td").first
    wrap_box = wrap.bounding_box()
    before = player.bounding_box()
    assert wrap.evaluate("w => w.scrollWidth > w.clientWidth")  # the table is wider than a phone
    wrap.evaluate("w => { w.scrollLeft = 400; }")
    phone.wait_for_timeout(100)
    after = player.bounding_box()
    assert rank.bounding_box()["x"] < wrap_box["x"]  # the rank scrolled away...
    assert abs(after["x"] - wrap_box["x"]) <= 1  # ...the player column stayed at the edge
    assert before["x"] > after["x"]
    assert phone.evaluate(
        "([x, y]) => document.elementFromPoint(x, y).closest('td.player') !== null",
        [after["x"] + 5, after["y"] + after["height"] / 2],
    )  # and is drawn on top of the cells scrolling under it
    shot(phone, "15-large-league-phone")
    phone.goto(f"{url}/stats/honours")
    assert phone.locator("#honours-table tbody tr").count() > 10
    shot(phone, "16-honours-phone")
