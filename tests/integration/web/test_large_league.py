"""The large league (1,324 players, 4,838 matches) stays light: /stats shows the top of each
table and short latest-match lists, so the page stays under PAGE_LIMIT bytes."""

from __future__ import annotations

import re

from capo_worker.web.league_pages import PAGE_SIZE, TOP
from capo_worker.web.report_view import SHOWN
from tests.support.db import query
from tests.support.league_pages import large_league_with_stats, section, table_rows
from tests.support.web import app_client

PAGE_LIMIT = 600_000  # bytes of HTML (the goal; 1.8 MB before)


async def test_the_large_leagues_pages_stay_light(db_url: str) -> None:
    await large_league_with_stats(db_url)
    streaks = query(
        db_url,
        "SELECT jsonb_array_length(streaks) + jsonb_array_length(goal_streaks) "
        "FROM aggregated_match_report",
    )[0][0]
    busiest = query(
        db_url,
        """SELECT player_id FROM aggregated_player_profile_stats
           ORDER BY json_array_length(teammate_chemistry_all) DESC LIMIT 1""",
    )[0][0]
    everyone = query(db_url, "SELECT count(*) FROM aggregated_all_time_stats")[0][0]
    last = -(-everyone // PAGE_SIZE)
    assert streaks > SHOWN  # the report holds more streaks than the card shows
    async with app_client(db_url) as client:
        overview = await client.get("/stats")
        pages = {
            url: await client.get(url)
            for url in (
                "/stats/tables/season",
                f"/stats/tables/all-time?page={last}",
                "/stats/tables/ratings",
                "/stats/players",
                "/stats/honours",
                f"/stats/players/{busiest}",
            )
        }
    html = overview.text
    assert overview.status_code == 200
    assert len(overview.content) < PAGE_LIMIT, len(overview.content)
    for url, page in pages.items():
        assert page.status_code == 200, url
        assert len(page.content) < PAGE_LIMIT, (url, len(page.content))
    for table_id in ("season-table", "half-season-table", "ratings-table", "all-time-table"):
        assert len(table_rows(html, table_id)) == TOP
    card = section(html, "report-streaks")
    assert len(re.findall(r"<li>", card)) == SHOWN
    assert f"and {streaks - SHOWN} more" in card
    lengths = [int(n) for n in re.findall(r"</a>: (?:scored in )?(\d+) ", card)]
    assert lengths == sorted(lengths, reverse=True)  # the longest first
    last_page = pages[f"/stats/tables/all-time?page={last}"].text
    assert len(table_rows(last_page, "all-time-table")) == everyone - (last - 1) * PAGE_SIZE
