"""Stats computed for another day (`stats run --as-of`): the pages name the periods after
that day and say "as of" it, instead of labelling them by today."""

from __future__ import annotations

import datetime as dt

from tests.support.db import query
from tests.support.league_pages import league_with_stats, run_stats, section
from tests.support.web import app_client


async def test_stats_for_an_earlier_day_are_labelled_by_that_day(db_url: str) -> None:
    await league_with_stats(db_url)  # today is 2026-11-28 (second half of 2026)
    await run_stats(db_url, as_of=dt.date(2026, 3, 1))
    assert query(db_url, "SELECT DISTINCT as_of FROM capo_stats_computed_for") == [
        (dt.date(2026, 3, 1),)
    ]
    async with app_client(db_url) as client:
        html = (await client.get("/stats")).text
        table = (await client.get("/stats/tables/half-season")).text
        honours = (await client.get("/stats/honours")).text
    half = section(html, "half")
    assert "Half-season Jan-Jun 2026" in half
    assert "01 Jan 2026 to 30 Jun 2026" in half
    assert "Current half-season" not in html  # the January-June numbers are not current
    assert "Stats as of 01 Mar 2026" in section(html, "as-of")
    race = section(html, "race-current_half-figure")
    assert "Half-season Jan-Jun 2026" in race
    for page in (table, honours):
        assert "Stats as of 01 Mar 2026" in page


async def test_stats_for_today_are_current_and_not_as_of(db_url: str) -> None:
    await league_with_stats(db_url)
    await run_stats(db_url, as_of=dt.date(2026, 3, 1))
    await run_stats(db_url)  # and again for today
    async with app_client(db_url) as client:
        html = (await client.get("/stats")).text
    assert "Current half-season (Jul-Dec 2026)" in section(html, "half")
    assert "01 Jul 2026 to 31 Dec 2026" in html
    assert 'id="as-of"' not in html and "Stats as of" not in html


async def test_tables_computed_for_different_days_are_pointed_out(db_url: str) -> None:
    await league_with_stats(db_url)
    # Only the season race for another day: the tables still describe today.
    await run_stats(db_url, as_of=dt.date(2026, 5, 20), only=["update_aggregated_season_race_data"])
    async with app_client(db_url) as client:
        html = (await client.get("/stats")).text
    assert 'id="as-of"' not in html
    assert "Some tables were computed for another day: 20 May 2026." in html
