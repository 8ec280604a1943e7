"""Adopting an existing Capo database: `capo-worker migrate` on the app's tables, functions
and Node-era jobs keeps every row, makes the keys per tenant, leaves no ambiguous function,
and the outputs equal the goldens after a stats run; the documented way back works too."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest

from capo_worker import queue
from capo_worker.config import Settings
from capo_worker.constants import DEFAULT_TENANT_ID
from capo_worker.db import create_database, drop_database
from capo_worker.league.model import load_league_file
from capo_worker.migrate import MigrationReport, migrate, schema_status
from capo_worker.runtime import open_runtime
from capo_worker.service import build_worker
from capo_worker.stats.registry import STATS_FUNCTIONS
from tests.support import reference_db, schema_dump
from tests.support.db import execute, query
from tests.support.golden import compare_folder, report
from tests.support.leagues import golden_dir, league_path, load_fixture
from tests.support.processes import run_command
from tests.support.statsdb import failures, import_into, run_graph
from tests.support.web import pin_today, settings_for

GOLDEN_AS_OF = "2026-11-28"
GOLDEN_DAY = dt.date.fromisoformat(GOLDEN_AS_OF)
SECOND_CLUB = "00000000-0000-0000-0000-0000000000c2"

# The functions the app has, and the signatures each must have after adoption.
APP_FUNCTION_SIGNATURES = {
    **{f.name: {f"{f.name}()", f"{f.name}(uuid)"} for f in STATS_FUNCTIONS},
    "get_config_value": {"get_config_value(text,text)", "get_config_value(text,text,uuid)"},
    "calculate_match_fantasy_points": {
        "calculate_match_fantasy_points(text,boolean,boolean,boolean)"
    },
    "get_current_season_start_date": {"get_current_season_start_date()"},
    "get_current_half_season_start_date": {"get_current_half_season_start_date()"},
    "get_current_half_season_end_date": {"get_current_half_season_end_date()"},
}


@dataclass
class AppDatabase:
    name: str
    url: str
    columns: dict[str, list[str]]  # the app's tables and columns, before adoption
    rows_before: dict[str, list[str]]
    migration: MigrationReport


@pytest.fixture(scope="module")
def app_db(server_url: str) -> Iterator[AppDatabase]:
    """The app's database (tiny league, its golden outputs, Node-era jobs), recorded,
    then adopted once by `migrate`; tests work on clones of it."""
    name = f"capo_app_{os.getpid()}"
    drop_database(server_url, name)
    url = reference_db.build(server_url, name)
    with psycopg.connect(url) as conn:
        columns = reference_db.table_columns(conn)
        rows = reference_db.table_rows(conn, columns)
    migration = asyncio.run(migrate(url))
    yield AppDatabase(name, url, columns, rows, migration)
    drop_database(server_url, name)


@pytest.fixture
def adopted_url(server_url: str, app_db: AppDatabase) -> Iterator[str]:
    name = f"capo_adopted_{uuid.uuid4().hex[:12]}"
    url = create_database(server_url, name, template=app_db.name)
    yield url
    drop_database(server_url, name)


def single_club_keys(url: str) -> int:
    found = query(url, "SELECT count(*) FROM pg_indexes WHERE indexname LIKE 'capo_single_club%'")
    return int(found[0][0])


def signatures(url: str, names: list[str]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {n: set() for n in names}
    for name, signature, defaults in query(
        url,
        """SELECT proname, oid::regprocedure::text, pronargdefaults FROM pg_proc
           WHERE proname = ANY(%s) AND pronamespace = current_schema()::regnamespace""",
        names,
    ):
        found[name].add(signature.replace(", ", ",") + (" DEFAULT" if defaults else ""))
    return found


# --- item 1: adoption works and loses nothing ------------------------------------------------


def test_migrate_adopts_the_app_database(app_db: AppDatabase) -> None:
    applied = [step.name for step in app_db.migration.applied]
    assert "0003_stats_outputs.sql" in applied
    assert "0004_per_tenant_keys.sql" in applied
    assert asyncio.run(_state(app_db.url)) == "current"


async def _state(url: str) -> str:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        return (await schema_status(conn)).state


def test_every_row_keeps_its_values(app_db: AppDatabase) -> None:
    with psycopg.connect(app_db.url) as conn:
        after = reference_db.table_rows(conn, app_db.columns)
    for table, rows in app_db.rows_before.items():
        assert after[table] == rows, f"{table}: rows changed by the adoption"
    assert len(app_db.rows_before["background_job_status"]) == 7
    assert len(app_db.rows_before["aggregated_season_stats"]) > 0


def test_tables_get_the_tenant_column_and_per_tenant_keys(app_db: AppDatabase) -> None:
    league_tables = [t for t in app_db.columns if t.startswith("aggregated_")] + [
        "players",
        "matches",
        "player_matches",
        "app_config",
        "cache_metadata",
    ]
    for table in league_tables:
        tenants = query(app_db.url, f"SELECT DISTINCT tenant_id::text FROM {table}")
        assert tenants in ([], [(DEFAULT_TENANT_ID,)]), table
    unique_keys = {
        (table, columns)
        for table, columns in query(
            app_db.url,
            """SELECT i.indrelid::regclass::text,
                      (SELECT string_agg(a.attname, ',' ORDER BY k.n)
                       FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, n)
                       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum)
               FROM pg_index i WHERE i.indisunique""",
        )
    }
    for single_club, per_tenant in [
        (("players", "name"), ("players", "tenant_id,name")),
        (("app_config", "config_key"), ("app_config", "tenant_id,config_key")),
        (("cache_metadata", "cache_key"), ("cache_metadata", "tenant_id,cache_key")),
        (("aggregated_season_honours", "year"), ("aggregated_season_honours", "tenant_id,year")),
        (
            ("aggregated_season_race_data", "season_year,period_type"),
            ("aggregated_season_race_data", "tenant_id,season_year,period_type"),
        ),
    ]:
        assert single_club not in unique_keys
        assert per_tenant in unique_keys


def test_after_adoption_a_worker_finishes_the_app_jobs_and_the_outputs_equal_the_goldens(
    adopted_url: str,
) -> None:
    # The worker honours a database-level capo.as_of (item 8): the goldens' date.
    pin_today(adopted_url, GOLDEN_AS_OF)
    settings = settings_for(adopted_url, job_lease_seconds=5, poll_interval_ms=100)
    asyncio.run(_work_until_no_job_is_open(settings))
    rows = dict(
        query(
            adopted_url,
            "SELECT job_payload->>'requestId', status FROM background_job_status",
        )
    )
    for request in (reference_db.NODE_STUCK_REQUEST, *reference_db.WEB_QUEUED_REQUESTS):
        assert rows[request] == "completed", request
    assert rows[reference_db.NODE_FAILED_REQUEST] == "failed"
    stuck = query(
        adopted_url,
        "SELECT attempt_errors->0->>'error' FROM background_job_status "
        "WHERE job_payload->>'requestId' = %s",
        reference_db.NODE_STUCK_REQUEST,
    )
    assert stuck == [("worker lost",)]
    with psycopg.connect(adopted_url) as conn:
        diffs = compare_folder(conn, golden_dir("tiny"))
    assert all(d.ok for d in diffs), report(diffs)


async def _work_until_no_job_is_open(settings: Settings) -> None:
    async with open_runtime(settings) as rt:
        stop = asyncio.Event()
        task = asyncio.create_task(build_worker(rt).run(stop))
        try:
            for _ in range(1200):  # a deadline against hanging, not a timing assertion
                async with rt.pool.connection() as conn:
                    cur = await conn.execute(
                        "SELECT count(*) FROM background_job_status "
                        "WHERE status IN ('queued', 'processing')"
                    )
                    row = await cur.fetchone()
                if row and row[0] == 0:
                    return
                await asyncio.sleep(0.1)
            raise AssertionError("the app's queued and stuck jobs were not finished")
        finally:
            stop.set()
            await task


def test_a_second_club_can_be_imported_and_computed(adopted_url: str) -> None:
    execute(adopted_url, "INSERT INTO tenants (tenant_id, name) VALUES (%s, 'second')", SECOND_CLUB)
    import_into(adopted_url, load_league_file(league_path("tiny")), SECOND_CLUB, renumber=True)
    run = run_graph(adopted_url, SECOND_CLUB, as_of=GOLDEN_DAY)
    assert failures(run) == {}
    with psycopg.connect(adopted_url) as conn:
        first = compare_folder(conn, golden_dir("tiny"), tenant_id=DEFAULT_TENANT_ID)
    assert all(d.ok for d in first), report(first)
    counts = dict(
        query(
            adopted_url,
            "SELECT tenant_id::text, count(*) FROM cache_metadata GROUP BY 1",
        )
    )
    assert counts == {DEFAULT_TENANT_ID: 11, SECOND_CLUB: 11}
    honours = query(
        adopted_url,
        "SELECT count(*) FROM aggregated_season_race_data WHERE tenant_id = %s",
        SECOND_CLUB,
    )
    assert honours[0][0] > 0


def test_a_new_app_database_without_data_or_functions_is_adopted(
    server_url: str,
) -> None:
    name = f"capo_newapp_{uuid.uuid4().hex[:12]}"
    url = reference_db.build(server_url, name, league=None, jobs=False, functions=False)
    try:
        migration = asyncio.run(migrate(url))
        assert "0004_per_tenant_keys.sql" in [s.name for s in migration.applied]
        load_fixture(url, "tiny")
        run = run_graph(url, as_of=GOLDEN_DAY)
        assert failures(run) == {}
        with psycopg.connect(url) as conn:
            diffs = compare_folder(conn, golden_dir("tiny"))
        assert all(d.ok for d in diffs), report(diffs)
    finally:
        drop_database(server_url, name)


# --- item 2: no ambiguity, now or after the app's SQL is re-run --------------------------------


def test_after_adoption_each_app_function_has_its_two_signatures_and_no_default(
    app_db: AppDatabase,
) -> None:
    assert signatures(app_db.url, list(APP_FUNCTION_SIGNATURES)) == APP_FUNCTION_SIGNATURES
    defaults = query(
        app_db.url,
        """SELECT oid::regprocedure::text FROM pg_proc
           WHERE pronargdefaults > 0 AND (proname LIKE 'update\\_%%' OR proname = ANY(%s))""",
        list(APP_FUNCTION_SIGNATURES),
    )
    assert defaults == []


def test_calls_as_the_app_makes_them_work_after_adoption(adopted_url: str) -> None:
    pin_today(adopted_url, GOLDEN_AS_OF)
    with psycopg.connect(adopted_url, autocommit=True) as conn:
        for fn in STATS_FUNCTIONS:
            assert conn.execute(f"SELECT {fn.name}()".encode()).fetchone() == ("",)
        assert conn.execute("SELECT get_config_value('no_such_key', 'd')").fetchone() == ("d",)
        assert conn.execute(
            "SELECT calculate_match_fantasy_points('win', true, false, true)"
        ).fetchone() == (40,)
    with psycopg.connect(adopted_url) as conn:
        diffs = compare_folder(conn, golden_dir("tiny"))
    assert all(d.ok for d in diffs), report(diffs)


# --- item 4: the tables a migration changed are analyzed -----------------------------------------


def test_migrate_analyzes_the_tables_it_changed(app_db: AppDatabase) -> None:
    unanalyzed = query(
        app_db.url,
        """SELECT c.relname, a.attname FROM pg_class c
           JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
           WHERE c.relname = ANY(%s)
             AND EXISTS (SELECT FROM pg_stats s WHERE s.tablename = c.relname)
             AND NOT EXISTS (SELECT FROM pg_stats s
                             WHERE s.tablename = c.relname AND s.attname = a.attname)""",
        list(app_db.columns),
    )
    assert unanalyzed == []
    analyzed = set(app_db.migration.analyzed)
    assert {"players", "player_matches", "aggregated_season_stats"} <= analyzed
    stats = query(
        app_db.url,
        "SELECT count(*) FROM pg_stats WHERE tablename = 'player_matches' "
        "AND attname = 'tenant_id'",
    )
    assert stats == [(1,)]


# --- item 8: the Node era's history is kept by retention ------------------------------------------


def test_retention_keeps_the_node_era_history_unless_asked(adopted_url: str) -> None:
    async def prune(include_legacy: bool) -> int:
        async with await psycopg.AsyncConnection.connect(adopted_url, autocommit=True) as conn:
            return await queue.prune(conn, older_than_days=0.5, include_legacy=include_legacy)

    execute(
        adopted_url,
        """INSERT INTO background_job_status (job_payload, status, attempts, completed_at)
           VALUES ('{"requestId": "ours"}', 'completed', 1, now() - interval '2 days')""",
    )
    assert asyncio.run(prune(False)) == 1
    node_rows = 1 + len(reference_db.NODE_COMPLETED_REQUESTS)
    assert asyncio.run(prune(True)) == node_rows
    left = {r[0] for r in query(adopted_url, "SELECT status FROM background_job_status")}
    assert left == {"queued", "processing"}


# --- item 9: going back to the Node worker -------------------------------------------------------


def test_the_documented_rollback_gives_the_app_its_functions_back(adopted_url: str) -> None:
    # docs/operations.md, "Going back to the Node worker": stop capo-worker (none runs
    # here), prepare the database, re-run the app's own function definitions.
    done = run_command("prepare-rollback", db_url=adopted_url)
    assert done.returncode == 0, done.stderr
    assert "single-club" in done.stdout
    with psycopg.connect(adopted_url, autocommit=True) as conn:
        conn.execute(reference_db.app_functions_sql(or_replace=True).encode())
        for fn in STATS_FUNCTIONS:
            with pytest.raises(psycopg.errors.RaiseException, match=reference_db.STAND_IN_ERROR):
                conn.execute(f"SELECT {fn.name}()".encode())
        assert conn.execute("SELECT get_config_value('no_such_key', 'd')").fetchone() == ("d",)
        with pytest.raises(psycopg.errors.RaiseException, match=reference_db.STAND_IN_ERROR):
            conn.execute("SELECT calculate_match_fantasy_points('win', true, false, true)")
        # The app's functions upsert on the single-club keys.
        conn.execute(
            """INSERT INTO cache_metadata (cache_key, dependency_type) VALUES ('season_stats', 'x')
               ON CONFLICT (cache_key) DO UPDATE SET last_invalidated = now()"""
        )
        conn.execute(
            """INSERT INTO app_config (config_key, config_value) VALUES ('k', 'v')
               ON CONFLICT (config_key) DO UPDATE SET config_value = 'w'"""
        )
    assert signatures(adopted_url, list(APP_FUNCTION_SIGNATURES)) == APP_FUNCTION_SIGNATURES

    # Switching forward again: migrate repairs the functions and drops the single-club keys.
    done = run_command("migrate", db_url=adopted_url)
    assert done.returncode == 0, done.stderr
    assert "changed outside capo-worker" in done.stdout
    assert asyncio.run(_state(adopted_url)) == "current"
    assert single_club_keys(adopted_url) == 0
    with psycopg.connect(adopted_url, autocommit=True) as conn:
        assert conn.execute("SELECT update_power_ratings()").fetchone() == ("",)


def test_prepare_rollback_refuses_a_database_with_two_clubs(adopted_url: str) -> None:
    execute(adopted_url, "INSERT INTO tenants (tenant_id, name) VALUES (%s, 'second')", SECOND_CLUB)
    execute(
        adopted_url,
        "INSERT INTO players (name, tenant_id) VALUES ('Other', %s)",
        SECOND_CLUB,
    )
    done = run_command("prepare-rollback", db_url=adopted_url)
    assert done.returncode == 2
    assert "second" in done.stderr and "one club" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert single_club_keys(adopted_url) == 0


# --- item 7: an adopted database has the schema of a fresh install --------------------------------

# What an adopted database keeps as the app defined it, where a fresh install
# differs: nullability and defaults of the match report (its function writes
# every column), a timestamp precision, and two checks the app never had
# (adding them could fail on its rows; the league import checks the same).
KEPT_FROM_THE_APP = {
    "aggregated_match_report: match_date timestamp(6) with time zone NOT NULL",
    "aggregated_match_report: team_a_score integer NOT NULL",
    "aggregated_match_report: team_b_score integer NOT NULL",
    "aggregated_match_report: team_a_players jsonb DEFAULT '[]'::jsonb NOT NULL",
    "aggregated_match_report: team_b_players jsonb DEFAULT '[]'::jsonb NOT NULL",
    "aggregated_match_report: last_updated timestamp(6) with time zone DEFAULT now() NOT NULL",
    "players: profile_generated_at timestamp with time zone",
    "matches: CONSTRAINT CHECK ((team_a_own_goals >= 0))",
    "matches: CONSTRAINT CHECK ((team_b_own_goals >= 0))",
}


def test_the_adopted_schema_is_the_fresh_one(app_db: AppDatabase) -> None:
    fresh = schema_dump.objects(schema_dump.SCHEMA_SQL.read_text())
    adopted = schema_dump.objects(schema_dump.dump(app_db.url))
    missing = schema_dump.facts(fresh) - schema_dump.facts(adopted)
    assert missing == KEPT_FROM_THE_APP, (
        f"An adopted database lacks what a fresh install has (docs/schema.sql; "
        f"`{schema_dump.REGENERATE}` regenerates it): {sorted(missing - KEPT_FROM_THE_APP)}; "
        f"no longer differs: {sorted(KEPT_FROM_THE_APP - missing)}"
    )
    ours = {name.split("(")[0] for kind, name in fresh if kind == "FUNCTION"}
    extra = [
        name
        for kind, name in adopted
        if kind == "FUNCTION" and ("FUNCTION", name) not in fresh and name.split("(")[0] in ours
    ]
    assert extra == []  # no other signature of a name we install
