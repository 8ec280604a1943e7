"""The plans of the digest runs of recent performance and season stats among many clubs.

A full run after a match day computes every player's digest, then recomputes
the few players whose digest changed (docs/stats.md, "Only changed players").
Among many clubs PostgreSQL judges a club's joins by ids that span every club:
it expected a few hundred of the club's games where there are thousands, and
one changed player where there are a dozen. Two plans followed, each costing
more the more clubs share the database (issue 14): the digest pass sorted all
the club's games to group them by player, and recent performance computed the
changed players' last five games again for each of them (a nested loop).

The plans are read with auto_explain (nested statements, actual rows), which
the embedded server does not ship: the test runs on a server that has it
(TEST_DATABASE_URL).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from capo_worker.constants import DEFAULT_TENANT_ID
from capo_worker.db import create_database, drop_database
from tests.support.leagues import load_fixture

RECENT = "update_aggregated_recent_performance"
SEASON = "update_half_and_full_season_stats"
CLUBS = 40  # as bench/tenants.py: issue 14's figure
CLONE_SQL = Path(__file__).parents[2] / "bench" / "clone_clubs.sql"


@pytest.fixture(scope="module")
def many_clubs(server_url: str, template_db: str) -> Iterator[tuple[str, str, str]]:
    """The capo league and 39 copies, interleaved (bench/clone_clubs.sql): url, club, day."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        try:
            conn.execute("LOAD 'auto_explain'")
        except psycopg.Error:
            pytest.skip("the server has no auto_explain")
    name = f"capo_digest_plans_{os.getpid()}"
    drop_database(server_url, name)
    url = create_database(server_url, name, template=template_db)
    league = load_fixture(url, "capo")
    assert league.as_of is not None
    with psycopg.connect(url, autocommit=True) as conn:
        with conn.transaction():
            conn.execute(
                CLONE_SQL.read_text().encode(),
                {"source": DEFAULT_TENANT_ID, "count": CLUBS - 1, "prefix": "club"},
            )
        row = conn.execute("SELECT tenant_id::text FROM tenants WHERE name = 'club20'").fetchone()
        assert row is not None
        conn.execute("VACUUM ANALYZE")
    yield url, str(row[0]), league.as_of.isoformat()
    drop_database(server_url, name)


def nested_plans(url: str, tenant: str, day: str, function: str) -> list[dict[str, Any]]:
    """The plans of the statements one full run of `function` made after a match day."""
    plans: list[dict[str, Any]] = []
    with psycopg.connect(url, autocommit=True) as conn:

        def run() -> None:
            with conn.transaction():
                conn.execute("SELECT set_config('capo.as_of', %s, true)", (day,))
                conn.execute(f"SELECT {function}(%s::uuid)".encode(), (tenant,))

        run()  # the state: every player's digest
        # a match day: the goals of the club's latest match change (a dozen players)
        conn.execute(
            """UPDATE player_matches SET goals = COALESCE(goals, 0) + 1
               WHERE match_id = (SELECT match_id FROM matches WHERE tenant_id = %s
                                 ORDER BY match_date DESC, match_id DESC LIMIT 1)""",
            (tenant,),
        )
        for setting in (
            "LOAD 'auto_explain'",
            "SET auto_explain.log_min_duration = 0",
            "SET auto_explain.log_nested_statements = on",
            "SET auto_explain.log_analyze = on",
            "SET auto_explain.log_timing = off",
            "SET auto_explain.log_format = json",
            "SET client_min_messages = log",
        ):
            conn.execute(setting)

        def keep(diag: psycopg.errors.Diagnostic) -> None:
            message = diag.message_primary or ""
            if message.startswith("duration:"):  # "duration: ... plan:" then the JSON
                plans.append(json.loads(message.split("\n", 1)[1]))

        conn.add_notice_handler(keep)
        run()
    return plans


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


def statement(plans: list[dict[str, Any]], starts: str) -> dict[str, Any]:
    found = [p for p in plans if p["Query Text"].lstrip().startswith(starts)]
    assert len(found) == 1, [p["Query Text"][:60] for p in plans]
    return found[0]


@pytest.mark.parametrize("function", [RECENT, SEASON])
def test_the_digest_pass_hashes_the_clubs_games_by_player(
    many_clubs: tuple[str, str, str], function: str
) -> None:
    plans = nested_plans(*many_clubs, function)
    digests = statement(plans, "WITH new_digests")
    sorted_groups = [
        n["Group Key"]
        for n in nodes(digests["Plan"])
        if n["Node Type"] == "Aggregate" and n.get("Strategy") == "Sorted"
    ]
    assert sorted_groups == []


def test_recent_performance_computes_each_changed_player_once(
    many_clubs: tuple[str, str, str],
) -> None:
    plans = nested_plans(*many_clubs, RECENT)
    recompute = statement(plans, "WITH club_players")
    changed = [n for n in nodes(recompute["Plan"]) if n["Node Type"] == "ModifyTable"]
    assert changed and all(n["Actual Rows"] > 1 for n in changed)  # a dozen players
    again = [
        (n["Node Type"], n["Actual Loops"])
        for n in nodes(recompute["Plan"])
        if n["Node Type"] in ("Aggregate", "WindowAgg") and n["Actual Loops"] > 1
    ]
    assert again == []
