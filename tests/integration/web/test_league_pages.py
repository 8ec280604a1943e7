"""/stats: the top of every table (season, half-season, ratings, form, all-time), the hall
of fame, the latest match and the season race, per tenant; /stats/tables/{table} pages
through a whole table with a name search."""

from __future__ import annotations

import asyncio
import re

import psycopg

from capo_worker.league.importer import import_league
from capo_worker.league.model import load_league_file
from capo_worker.web.league_pages import PAGE_SIZE, TOP
from tests.support.db import execute, query
from tests.support.league_pages import (
    AS_OF,
    league_with_stats,
    player_cells,
    player_names,
    ranks,
    section,
    table_rows,
)
from tests.support.leagues import league_path, run_stats_sequentially
from tests.support.web import TENANT_B, app_client

SEASON_ORDER = """SELECT p.name FROM aggregated_season_stats s JOIN players p USING (player_id)
    WHERE NOT p.is_ringer AND extract(year FROM s.season_start_date) = 2026
    ORDER BY s.fantasy_points DESC, s.goals DESC, p.name"""


async def test_the_overview_shows_the_top_of_the_season_table_and_show_all_pages_through_it(
    db_url: str,
) -> None:
    await league_with_stats(db_url)
    expected = [r[0] for r in query(db_url, SEASON_ORDER)]
    assert len(expected) > PAGE_SIZE // 2 > TOP  # the small league has more than a page
    async with app_client(db_url) as client:
        page = await client.get("/stats")
        assert page.status_code == 200
        shown = table_rows(page.text, "season-table")
        assert player_names(shown) == expected[:TOP]
        assert ranks(shown) == list(range(1, TOP + 1))
        assert f"Show all {len(expected)}" in section(page.text, "season")
        # Every page of the whole table, in order: every non-ringer once, ranked.
        listed: list[str] = []
        for number in range(1, 10):
            full = await client.get("/stats/tables/season", params={"page": number})
            assert full.status_code == 200
            rows = table_rows(full.text, "season-table")
            if not rows:
                break
            assert ranks(rows) == list(range(len(listed) + 1, len(listed) + len(rows) + 1))
            listed += player_names(rows)
    assert listed == expected


async def test_a_table_search_keeps_whole_table_ranks(db_url: str) -> None:
    await league_with_stats(db_url)
    expected = [r[0] for r in query(db_url, SEASON_ORDER)]
    needle = expected[-1][1:3].lower()  # two letters of the last player's name
    matching = [(i + 1, n) for i, n in enumerate(expected) if needle in n.lower()]
    async with app_client(db_url) as client:
        found = await client.get("/stats/tables/season", params={"q": needle.upper()})
        nothing = await client.get("/stats/tables/all-time", params={"q": "zzzz%_"})
    rows = table_rows(found.text, "season-table")
    assert list(zip(ranks(rows), player_names(rows), strict=True)) == matching
    assert f"{len(matching)} player" in found.text
    assert table_rows(nothing.text, "all-time-table") == []


async def test_every_table_of_the_overview_is_the_top_of_its_table(db_url: str) -> None:
    await league_with_stats(db_url)
    counts = {
        "half-season-table": "SELECT count(*) FROM aggregated_half_season_stats "
        "JOIN players p USING (player_id) WHERE NOT p.is_ringer",
        "all-time-table": "SELECT count(*) FROM aggregated_all_time_stats",
        "ratings-table": "SELECT count(*) FROM aggregated_performance_ratings "
        "JOIN players p USING (player_id) WHERE NOT p.is_ringer",
        "form-table": "SELECT count(*) FROM aggregated_recent_performance "
        "WHERE jsonb_array_length(COALESCE(last_5_games, '[]')) > 0",
    }
    ratings = [
        r[0]
        for r in query(
            db_url,
            """SELECT p.name FROM aggregated_performance_ratings r JOIN players p USING (player_id)
               WHERE NOT p.is_ringer
               ORDER BY r.is_qualified DESC, r.power_rating DESC, p.name LIMIT %s""",
            TOP,
        )
    ]
    async with app_client(db_url) as client:
        html = (await client.get("/stats")).text
    for table_id, count_sql in counts.items():
        total = query(db_url, count_sql)[0][0]
        assert len(table_rows(html, table_id)) == min(TOP, total) > 0, table_id
    assert player_names(table_rows(html, "ratings-table")) == ratings
    assert 'class="form-' in html and 'data-sort="num"' in html


async def test_every_player_name_links_to_his_page(db_url: str) -> None:
    await league_with_stats(db_url)
    ids = dict(query(db_url, "SELECT name, player_id FROM players WHERE NOT is_ringer"))
    async with app_client(db_url) as client:
        html = (await client.get("/stats")).text
    for table_id in ("season-table", "half-season-table", "ratings-table", "form-table"):
        for cell in player_cells(table_rows(html, table_id)):
            link = re.search(r'<a href="/stats/players/(\d+)">([^<]+)</a>', cell)
            assert link, (table_id, cell)
            assert ids[link.group(2)] == int(link.group(1))
    for section_id in ("hall-of-fame", "report", "race"):
        text = section(html, section_id)
        links = re.findall(r'<a href="/stats/players/(\d+)">([^<]+)</a>', text)
        assert links, section_id
        assert all(ids[name] == int(pid) for pid, name in links)


async def test_the_latest_match_card_shows_the_personal_bests_set_in_it(db_url: str) -> None:
    await league_with_stats(db_url)
    (match_id, data), *_ = query(
        db_url, "SELECT match_id, broken_pbs_data FROM aggregated_personal_bests"
    )
    assert match_id == query(db_url, "SELECT max(match_id) FROM aggregated_match_report")[0][0]
    assert data  # the small league's last match sets personal bests
    async with app_client(db_url) as client:
        html = (await client.get("/stats")).text
    pbs = section(html, "report-personal-bests")
    for player_id, entry in data.items():
        assert f'<a href="/stats/players/{player_id}">{entry["name"]}</a>' in pbs
        for pb in entry["pbs"]:
            assert f"{pb['value']} " in pbs and f"(was {pb['previous_best_value']})" in pbs


async def test_numbers_have_one_decimal_and_empty_lists_name_their_threshold(
    db_url: str,
) -> None:
    await league_with_stats(db_url)
    # Few games make a win percentage count in the small league, then too many.
    execute(
        db_url,
        "INSERT INTO app_config (config_key, config_value) VALUES ('games_required_for_hof', '5')",
    )
    await asyncio.to_thread(run_stats_sequentially, db_url, AS_OF)
    win_pct = query(
        db_url,
        "SELECT value FROM aggregated_hall_of_fame WHERE category = 'best_win_percentage' "
        "ORDER BY value DESC LIMIT 1",
    )[0][0]
    async with app_client(db_url) as client:
        before = section((await client.get("/stats")).text, "hall-of-fame")
        execute(
            db_url,
            "UPDATE app_config SET config_value = '500' "
            "WHERE config_key = 'games_required_for_hof'",
        )
        await asyncio.to_thread(run_stats_sequentially, db_url, AS_OF)
        after = section((await client.get("/stats")).text, "hall-of-fame")
    assert len(str(win_pct).split(".")[1]) == 2  # stored with two decimals (54.90)
    assert f">{win_pct:.1f}<" in before  # shown with one (54.9)
    assert not re.search(r">-?\d+\.\d\d<", before)  # never two decimals
    assert "Nobody qualifies yet: it takes at least 500 games and a win." in after


async def test_the_race_charts_colour_each_player_once_with_a_tooltip_per_point(
    db_url: str,
) -> None:
    await league_with_stats(db_url)
    race = dict(
        query(
            db_url,
            "SELECT period_type, player_data FROM aggregated_season_race_data "
            "WHERE season_year = 2026",
        )
    )
    async with app_client(db_url) as client:
        html = (await client.get("/stats")).text
    colour_of: dict[str, str] = {}
    for period in ("whole_season", "current_half"):
        svg = re.search(rf'<svg class="race-chart" id="race-{period}".*?</svg>', html, re.S)
        assert svg, period
        groups = re.findall(
            r'<g class="player" data-player="([^"]+)">(.*?)</g>', svg.group(0), re.S
        )
        assert len(groups) == len(race[period]) > 1
        colours = []
        for name, body in groups:
            colour = re.search(r'class="series (series-\d+)"', body).group(1)  # type: ignore[union-attr]
            assert colour_of.setdefault(name, colour) == colour, name  # same on both charts
            colours.append(colour)
            player = next(p for p in race[period] if p["name"] == name)
            tips = re.findall(r'<circle class="point [^"]+"[^>]*><title>([^<]+)</title>', body)
            assert len(tips) == len(player["cumulative_data"])
            last = player["cumulative_data"][-1]
            assert tips[-1].endswith(f": {last['points']} points")
        assert len(set(colours)) == len(colours)  # distinct within a chart
    assert len(set(colour_of.values())) == len(colour_of)  # and across both


async def test_empty_league_shows_empty_states(db_url: str) -> None:
    async with app_client(db_url) as client:
        page = await client.get("/stats")
    assert page.status_code == 200
    assert "No games in this period yet." in page.text
    assert "No points in this period yet." in page.text
    assert "No match report yet." in page.text
    assert "Nobody rated yet: a rating needs 5 weighted games." in page.text
    assert "<polyline" not in page.text


async def test_each_tenant_sees_its_own_league(db_url: str) -> None:
    await league_with_stats(db_url)
    execute(db_url, "INSERT INTO tenants (tenant_id, name) VALUES (%s, 'club-b')", TENANT_B)
    tiny = load_league_file(league_path("tiny"))
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        await import_league(conn, tiny, TENANT_B, renumber=True)
    await asyncio.to_thread(run_stats_sequentially, db_url, AS_OF, TENANT_B)
    names_b = {
        r[0]
        for r in query(
            db_url,
            "SELECT p.name FROM aggregated_all_time_stats a JOIN players p USING (player_id) "
            "WHERE a.tenant_id = %s",
            TENANT_B,
        )
    }
    async with app_client(db_url) as client:
        page_b = await client.get("/stats/tables/all-time", params={"tenant": "club-b"})
        page_b_by_id = await client.get("/stats/tables/all-time", params={"tenant": TENANT_B})
        page_a = await client.get("/stats/tables/all-time")
        overview_b = await client.get("/stats", params={"tenant": "club-b"})
        unknown = await client.get("/stats", params={"tenant": "nobody"})
        unknown_table = await client.get("/stats/tables/form", params={"tenant": "nobody"})
    assert set(player_names(table_rows(page_b.text, "all-time-table"))) == names_b
    assert page_b_by_id.text.count("<tr") == page_b.text.count("<tr")
    assert len(table_rows(page_a.text, "all-time-table")) > len(names_b)
    assert "tenant=club-b" in overview_b.text  # its links stay in club-b
    assert unknown.status_code == unknown_table.status_code == 404
    assert "club-b" in unknown.text


async def test_a_past_season_can_be_chosen(db_url: str) -> None:
    await league_with_stats(db_url)
    async with app_client(db_url) as client:
        bad = await client.get("/stats", params={"season": "1999"})
    assert bad.status_code == 200  # unknown year: the latest season
    assert "Season 2026" in bad.text
