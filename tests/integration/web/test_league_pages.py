"""/stats: tables, hall of fame, form, match report and the season race, per tenant."""

from __future__ import annotations

import asyncio
import re

import psycopg

from capo_worker.league.importer import import_league
from capo_worker.league.model import load_league_file
from tests.support.db import execute, query
from tests.support.leagues import league_path, load_fixture, run_stats_sequentially
from tests.support.web import TENANT_B, app_client

AS_OF = "2026-11-28"


def table_rows(html: str, table_id: str) -> list[str]:
    body = re.search(rf'<table id="{table_id}".*?<tbody>(.*?)</tbody>', html, re.S)
    assert body, f"no table {table_id}"
    return [r for r in re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S) if "empty-state" not in r]


def player_names(rows: list[str]) -> list[str]:
    return [re.search(r'<td data-value="([^"]*)">', r).group(1) for r in rows]  # type: ignore[union-attr]


async def league(db_url: str, name: str = "small") -> None:
    await asyncio.to_thread(load_fixture, db_url, name)
    outcome = await asyncio.to_thread(run_stats_sequentially, db_url, AS_OF)
    assert all(error is None for error in outcome.values()), outcome


async def test_the_season_table_lists_every_non_ringer_best_first(db_url: str) -> None:
    await league(db_url)
    expected = query(
        db_url,
        """SELECT p.name FROM aggregated_season_stats s JOIN players p USING (player_id)
           WHERE NOT p.is_ringer AND extract(year FROM s.season_start_date) = 2026
           ORDER BY s.fantasy_points DESC, s.goals DESC, p.name""",
    )
    async with app_client(db_url) as client:
        page = await client.get("/stats")
    assert page.status_code == 200
    assert player_names(table_rows(page.text, "season-table")) == [r[0] for r in expected]
    assert (
        len(table_rows(page.text, "half-season-table"))
        == query(
            db_url,
            "SELECT count(*) FROM aggregated_half_season_stats JOIN players p USING (player_id) "
            "WHERE NOT p.is_ringer",
        )[0][0]
    )
    assert (
        len(table_rows(page.text, "all-time-table"))
        == query(db_url, "SELECT count(*) FROM aggregated_all_time_stats")[0][0]
    )
    assert 'class="form-' in page.text  # the form column is drawn
    assert 'data-sort="num"' in page.text  # sortable headers


async def test_race_chart_report_hall_of_fame_and_form(db_url: str) -> None:
    await league(db_url)
    race = dict(
        query(
            db_url,
            "SELECT period_type, jsonb_array_length(player_data) FROM aggregated_season_race_data "
            "WHERE season_year = 2026",
        )
    )
    score = query(db_url, "SELECT team_a_score, team_b_score FROM aggregated_match_report")[0]
    async with app_client(db_url) as client:
        html = (await client.get("/stats")).text
    for period in ("whole_season", "current_half"):
        svg = re.search(rf'<svg class="race-chart" id="race-{period}".*?</svg>', html, re.S)
        assert svg, period
        assert svg.group(0).count("<polyline") == race[period] > 0
    assert f"{score[0]} – {score[1]}" in html
    hof = re.search(r'id="hall-of-fame".*?</section>', html, re.S).group(0)  # type: ignore[union-attr]
    assert "Most goals" in hof and "<ol>" in hof
    assert len(table_rows(html, "form-table")) > 0


async def test_empty_league_shows_empty_states(db_url: str) -> None:
    async with app_client(db_url) as client:
        page = await client.get("/stats")
    assert page.status_code == 200
    assert "No games in this period yet." in page.text
    assert "No points in this period yet." in page.text
    assert "No match report yet." in page.text
    assert "<polyline" not in page.text


async def test_each_tenant_sees_its_own_league(db_url: str) -> None:
    await league(db_url, "small")
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
        page_b = await client.get("/stats", params={"tenant": "club-b"})
        page_b_by_id = await client.get("/stats", params={"tenant": TENANT_B})
        page_a = await client.get("/stats")
        unknown = await client.get("/stats", params={"tenant": "nobody"})
    assert set(player_names(table_rows(page_b.text, "all-time-table"))) == names_b
    assert page_b_by_id.text.count("<tr>") == page_b.text.count("<tr>")
    assert len(table_rows(page_a.text, "all-time-table")) > len(names_b)
    assert unknown.status_code == 404
    assert "club-b" in unknown.text


async def test_a_past_season_can_be_chosen(db_url: str) -> None:
    await league(db_url)
    async with app_client(db_url) as client:
        bad = await client.get("/stats", params={"season": "1999"})
    assert bad.status_code == 200  # unknown year: the latest season
    assert "Season 2026" in bad.text
