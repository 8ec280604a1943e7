"""/stats/players/{id} (profile, rating, streaks, years, teammates), /stats/players (search)
and /stats/honours (season honours and league records)."""

from __future__ import annotations

import asyncio
import re

import psycopg

from capo_worker.league.importer import import_league
from capo_worker.league.model import load_league_file
from tests.support.db import execute, query
from tests.support.league_pages import league_with_stats, player_names, section, table_rows
from tests.support.leagues import league_path, run_stats_sequentially
from tests.support.web import TENANT_B, app_client


async def test_a_player_page_shows_his_profile_rating_years_and_teammates(db_url: str) -> None:
    await league_with_stats(db_url)
    # The player with the most teammates of ten games or more.
    player_id, name, games, years, chemistry, win_streak, win_dates = query(
        db_url,
        """SELECT player_id, name, games_played, yearly_stats, teammate_chemistry_all::jsonb,
                  win_streak, win_streak_dates
           FROM aggregated_player_profile_stats
           ORDER BY json_array_length(teammate_chemistry_all) DESC, player_id LIMIT 1""",
    )[0]
    power = query(
        db_url,
        "SELECT power_rating FROM aggregated_performance_ratings WHERE player_id = %s",
        player_id,
    )[0][0]
    assert chemistry and years
    async with app_client(db_url) as client:
        page = await client.get(f"/stats/players/{player_id}")
    assert page.status_code == 200
    html = page.text
    assert f"<h1>{name}" in html
    assert f'id="fact-games">{games}<' in html
    assert f'id="fact-power">{power:.1f}<' in html
    years_rows = table_rows(html, "yearly-table")
    assert [int(re.search(r'data-value="(\d+)"', r).group(1)) for r in years_rows] == [  # type: ignore[union-attr]
        y["year"] for y in years
    ]
    mates = table_rows(html, "chemistry-table")
    assert player_names(mates) == [t["name"] for t in chemistry]
    for row, mate in zip(mates, chemistry, strict=True):
        assert f'<a href="/stats/players/{mate["player_id"]}">' in row
        assert f">{mate['average_fantasy_points_with']:.1f}<" in row  # one decimal
    streaks = section(html, "streaks")
    assert f'<td class="num">{win_streak}</td>' in streaks
    if win_dates:
        assert win_dates.replace(" to ", " – ") in streaks


async def test_unknown_players_are_404_and_bad_ids_400(db_url: str) -> None:
    await league_with_stats(db_url)
    top = query(db_url, "SELECT max(player_id) FROM players")[0][0]
    some = query(db_url, "SELECT min(player_id) FROM players")[0][0]
    execute(db_url, "INSERT INTO tenants (tenant_id, name) VALUES (%s, 'club-b')", TENANT_B)
    async with app_client(db_url) as client:
        missing = await client.get(f"/stats/players/{top + 1000}")
        elsewhere = await client.get(f"/stats/players/{some}", params={"tenant": "club-b"})
        no_tenant = await client.get(f"/stats/players/{some}", params={"tenant": "nobody"})
        bad = [
            await client.get(f"/stats/players/{value}")
            for value in ("abc", "0", "-3", str(2**31), "1.5", "%C2%B2")
        ]
    assert missing.status_code == 404
    assert f"No player with id {top + 1000}." in missing.text
    assert elsewhere.status_code == no_tenant.status_code == 404
    for answer in bad:
        assert answer.status_code == 400, answer.text[:200]
        assert answer.json()["field"] == "player_id"


async def test_another_tenants_player_has_his_own_tenants_page(db_url: str) -> None:
    await league_with_stats(db_url)
    execute(db_url, "INSERT INTO tenants (tenant_id, name) VALUES (%s, 'club-b')", TENANT_B)
    tiny = load_league_file(league_path("tiny"))
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        await import_league(conn, tiny, TENANT_B, renumber=True)
    await asyncio.to_thread(run_stats_sequentially, db_url, "2026-11-28", TENANT_B)
    player_id, name = query(
        db_url, "SELECT player_id, name FROM players WHERE tenant_id = %s LIMIT 1", TENANT_B
    )[0]
    async with app_client(db_url) as client:
        page = await client.get(f"/stats/players/{player_id}")
        in_default = await client.get(f"/stats/players/{player_id}", params={"tenant": "default"})
    assert page.status_code == 200 and f"<h1>{name}" in page.text
    assert "tenant=club-b" in page.text  # its links stay in club-b
    assert in_default.status_code == 404


async def test_the_player_search_finds_players_by_part_of_their_name(db_url: str) -> None:
    await league_with_stats(db_url)
    name = query(db_url, "SELECT name FROM players WHERE NOT is_ringer ORDER BY name LIMIT 1")[0][0]
    needle = name[:3].lower()
    expected = [
        r[0]
        for r in query(
            db_url,
            "SELECT name FROM players WHERE NOT is_ringer AND name ILIKE %s ORDER BY name",
            f"%{needle}%",
        )
    ]
    async with app_client(db_url) as client:
        found = await client.get("/stats/players", params={"q": needle})
        everyone = await client.get("/stats/players")
        too_long = await client.get("/stats/players", params={"q": "x" * 51})
        bad_page = await client.get("/stats/players", params={"page": "0"})
    assert player_names(table_rows(found.text, "players-table")) == expected
    assert len(table_rows(everyone.text, "players-table")) > len(expected)
    assert too_long.status_code == 400 and too_long.json()["field"] == "q"
    assert bad_page.status_code == 400 and bad_page.json()["field"] == "page"


async def test_the_honours_page_shows_every_finished_season_and_the_records(db_url: str) -> None:
    await league_with_stats(db_url, "capo")  # ten years: honours for nine of them
    honours = query(
        db_url, "SELECT year, season_winners, top_scorers FROM aggregated_season_honours"
    )
    records = query(db_url, "SELECT records FROM aggregated_records")[0][0]
    ids = dict(query(db_url, "SELECT name, player_id FROM players WHERE NOT is_ringer"))
    assert len(honours) > 5
    async with app_client(db_url) as client:
        page = await client.get("/stats/honours")
        overview = await client.get("/stats")
    assert page.status_code == 200
    rows = table_rows(page.text, "honours-table")
    assert len(rows) == len(honours)
    by_year = {int(re.search(r'<td class="player">(\d+)</td>', r).group(1)): r for r in rows}  # type: ignore[union-attr]
    for year, winners, scorers in honours:
        champion = winners["winners"][0]
        scorer = scorers["winners"][0]
        assert (
            f'<a href="/stats/players/{ids[champion["name"]]}">{champion["name"]}</a>'
            in by_year[year]
        )
        assert f'{scorer["name"]}</a> <span class="muted small">{scorer["goals"]}' in by_year[year]
    record_html = section(page.text, "records")
    for holder in records["most_goals_in_game"]:
        assert f">{holder['name']}</a>: {holder['goals']} goals" in record_html
    for victory in records["biggest_victory"]:
        for part in f"{victory['team_a_players']}, {victory['team_b_players']}".split(", "):
            name = part.split(" (")[0]
            assert f'<a href="/stats/players/{ids[name]}">{name}</a>' in record_html
    for kind, value in records["streaks"].items():
        for holder in value["holders"]:
            assert f">{holder['name']}</a>: {holder['streak']} games" in record_html, kind
    assert 'href="/stats/honours"' in overview.text
    # The champion's page lists the title.
    year, winners, _ = max(honours)
    champion = winners["winners"][0]
    async with app_client(db_url) as client:
        his = (await client.get(f"/stats/players/{ids[champion['name']]}")).text
    assert f"{year}: Champion ({champion['points']} points)" in section(his, "player-honours")


async def test_a_player_page_without_stats_says_so(db_url: str) -> None:
    execute(db_url, "INSERT INTO players (player_id, name) VALUES (7, 'Newcomer')")
    async with app_client(db_url) as client:
        page = await client.get("/stats/players/7")
    assert page.status_code == 200
    assert "No stats for Newcomer yet" in page.text
