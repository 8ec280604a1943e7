"""Tenant independence of the stats functions' plans (issue 14, item 1).

Several clubs share one database (the fixture leagues, each under its own
tenant). For each club the ten functions run, and PostgreSQL's own activity
counters say which scans their statements did, nested PL/pgSQL statements
included: no sequential scan of a league or output table, and no index scan
through an index whose first column is not tenant_id. A sequential scan reads
every club's rows; an index that does not lead with the tenant finds rows by a
global id, the per-row lookups the planner chose among many clubs when it
misjudged a club's joins (docs/operations.md, "Many clubs in one database").

The counters are read instead of auto_explain because the embedded server
ships without contrib modules; they record the scans the executor really made
in every statement the functions ran. Two settings make the check independent
of table sizes and of the app's foreign keys:

- enable_seqscan = off: on these small tables a sequential scan can be the
  cheapest plan; with it discouraged, one remains only where no index can
  serve the query, which is what this test looks for (the bench shows the
  plans the planner picks by itself among 40 and 1,000 clubs);
- session_replication_role = replica: no foreign-key checks; they look up the
  one parent row of a written row by its global id, outside the functions' SQL.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator

import psycopg
import pytest

from capo_worker.constants import DEFAULT_TENANT_ID
from capo_worker.db import create_database, drop_database
from capo_worker.league.model import load_league_file
from capo_worker.stats.registry import STATS_FUNCTIONS, dependency_order
from tests.support.leagues import PUBLIC_LEAGUES, league_path
from tests.support.statsdb import create_tenant, import_into

# The tables the stats functions read or write, whose rows belong to clubs.
LEAGUE_TABLES = ("players", "matches", "player_matches", "app_config", "cache_metadata")
OUTPUT_TABLES = (
    "aggregated_half_season_stats",
    "aggregated_season_stats",
    "aggregated_all_time_stats",
    "aggregated_hall_of_fame",
    "aggregated_recent_performance",
    "aggregated_season_honours",
    "aggregated_records",
    "aggregated_personal_bests",
    "aggregated_match_report",
    "aggregated_player_profile_stats",
    "aggregated_season_race_data",
    "aggregated_performance_ratings",
)
# capo-worker's own per-club state that a stats function reads and writes.
STATE_TABLES = (
    "capo_power_rating_state",
    "capo_power_rating_sums",
    "capo_power_rating_weights",
    "capo_records_player_bests",
    "capo_profile_stats_state",
    "capo_player_games_digests",
    "capo_profile_match_state",
)
CLUB_TABLES = LEAGUE_TABLES + OUTPUT_TABLES + STATE_TABLES

_COUNTERS = """
SELECT 'table' AS kind, relname AS name, seq_scan AS scans, true AS leads_with_tenant
  FROM pg_stat_user_tables WHERE relname = ANY(%(tables)s)
UNION ALL
SELECT 'index', s.indexrelname, s.idx_scan,
       (SELECT a.attname = 'tenant_id' FROM pg_attribute a
         WHERE a.attrelid = i.indrelid AND a.attnum = i.indkey[0])
  FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid
 WHERE s.relname = ANY(%(tables)s)
"""


def counters(conn: psycopg.Connection[tuple[object, ...]]) -> dict[tuple[str, str], int]:
    """Scans so far: ('table', name) counts sequential scans, ('index', name) index scans."""
    # Counters reach the shared statistics when the backend next goes idle;
    # force it, then read them afresh.
    conn.execute("SELECT pg_stat_force_next_flush()")
    conn.execute("SELECT pg_stat_clear_snapshot()")
    rows = conn.execute(_COUNTERS, {"tables": list(CLUB_TABLES)}).fetchall()
    return {(str(kind), str(name)): int(str(scans or 0)) for kind, name, scans, _ in rows}


def tenant_leading_indexes(conn: psycopg.Connection[tuple[object, ...]]) -> frozenset[str]:
    rows = conn.execute(_COUNTERS, {"tables": list(CLUB_TABLES)}).fetchall()
    return frozenset(str(name) for kind, name, _, leads in rows if kind == "index" and leads)


def scans_per_function(
    conn: psycopg.Connection[tuple[object, ...]], tenant_id: str, as_of: dt.date | None
) -> dict[str, dict[tuple[str, str], int]]:
    """The scans each of the ten functions made in one run for `tenant_id`."""
    found = {}
    before = counters(conn)
    for fn in dependency_order(STATS_FUNCTIONS):
        with conn.transaction():
            if as_of:
                conn.execute("SELECT set_config('capo.as_of', %s, true)", (as_of.isoformat(),))
            conn.execute(f"SELECT {fn.name}(%s::uuid)".encode(), (tenant_id,))
        after = counters(conn)
        found[fn.name] = {k: n - before.get(k, 0) for k, n in after.items() if n > before.get(k, 0)}
        before = after
    return found


@pytest.fixture(scope="module")
def clubs(
    server_url: str, template_db: str
) -> Iterator[tuple[str, dict[str, tuple[str, dt.date | None]]]]:
    """A database with the five fixture leagues, one club each (new ids for all but the first)."""
    name = f"capo_tenant_plans_{os.getpid()}"
    drop_database(server_url, name)
    url = create_database(server_url, name, template=template_db)
    found: dict[str, tuple[str, dt.date | None]] = {}
    for i, league_name in enumerate(PUBLIC_LEAGUES):
        league = load_league_file(league_path(league_name))
        tenant = DEFAULT_TENANT_ID if i == 0 else create_tenant(url, league_name)
        import_into(url, league, tenant, renumber=True)
        found[league_name] = (tenant, league.as_of)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    yield url, found
    drop_database(server_url, name)


@pytest.mark.parametrize("league", PUBLIC_LEAGUES)
def test_a_clubs_stats_scan_only_its_own_rows(
    clubs: tuple[str, dict[str, tuple[str, dt.date | None]]], league: str
) -> None:
    url, found = clubs
    tenant_id, as_of = found[league]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET enable_seqscan = off")
        conn.execute("SET session_replication_role = replica")
        scans_per_function(conn, tenant_id, as_of)  # the first run writes the outputs
        scans = scans_per_function(conn, tenant_id, as_of)  # a run over existing outputs
        tenant_leading = tenant_leading_indexes(conn)

    assert any(scans.values()), "no scan counted: the counters were not read"
    wrong = {
        fn: {
            f"{'seq scan of' if kind == 'table' else 'index'} {name}": n
            for (kind, name), n in counted.items()
            if kind == "table" or name not in tenant_leading
        }
        for fn, counted in scans.items()
    }
    wrong = {fn: found for fn, found in wrong.items() if found}
    assert wrong == {}, (
        f"{league}: scans that do not start from the tenant (sequential scans, or index "
        f"scans through indexes whose first column is not tenant_id): {wrong}"
    )


@pytest.mark.parametrize("league", PUBLIC_LEAGUES)
def test_a_scoped_match_report_scans_only_its_clubs_rows(
    clubs: tuple[str, dict[str, tuple[str, dt.date | None]]], league: str
) -> None:
    """The match report of a post-match job (capo.scope_players set: the latest
    match's players) reads the previous report and its players' games by tenant too."""
    url, found = clubs
    tenant_id, as_of = found[league]
    fn = "update_aggregated_match_report_cache"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET enable_seqscan = off")
        conn.execute("SET session_replication_role = replica")
        scans_per_function(conn, tenant_id, as_of)  # the outputs, and a report to reuse
        row = conn.execute(
            """SELECT array_agg(player_id)::text FROM player_matches
               WHERE tenant_id = %s AND match_id = (SELECT max(match_id) FROM matches
                                                     WHERE tenant_id = %s)""",
            (tenant_id, tenant_id),
        ).fetchone()
        assert row is not None and row[0]
        before = counters(conn)
        with conn.transaction():
            if as_of:
                conn.execute("SELECT set_config('capo.as_of', %s, true)", (as_of.isoformat(),))
            conn.execute("SELECT set_config('capo.scope_players', %s, true)", (row[0],))
            summary = conn.execute(f"SELECT {fn}(%s::uuid)".encode(), (tenant_id,)).fetchone()
        after = counters(conn)
        tenant_leading = tenant_leading_indexes(conn)

    assert summary is not None and "kept from the previous report" in summary[0]["streaks"]
    wrong = {
        f"{'seq scan of' if kind == 'table' else 'index'} {name}": n - before.get((kind, name), 0)
        for (kind, name), n in after.items()
        if n > before.get((kind, name), 0) and (kind == "table" or name not in tenant_leading)
    }
    assert wrong == {}, f"{league}: scans that do not start from the tenant: {wrong}"


def test_every_stats_function_is_planned_per_call(
    clubs: tuple[str, dict[str, tuple[str, dt.date | None]]],
) -> None:
    """A worker's pooled session calls each function many times: after five calls
    PostgreSQL may switch a statement to a generic plan, made without the tenant, which
    among 40 clubs took recent performance from 8 to 760 ms (docs/stats.md, "Generic
    plans"). Each function carries plan_cache_mode = force_custom_plan."""
    url, _ = clubs
    with psycopg.connect(url) as conn:
        settings: dict[str, list[str] | None] = dict(
            conn.execute(
                """SELECT p.proname::text, p.proconfig FROM pg_proc p
                   WHERE p.proname = ANY (%s) AND p.pronargs = 1""",
                ([fn.name for fn in STATS_FUNCTIONS],),
            ).fetchall()
        )
    assert sorted(settings) == sorted(fn.name for fn in STATS_FUNCTIONS)
    lacking = [
        name
        for name, config in settings.items()
        if "plan_cache_mode=force_custom_plan" not in (config or [])
    ]
    assert lacking == []
