"""The stats runner on functions the tests create: graph order, parallelism, failures."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from capo_worker.db import make_pool
from capo_worker.stats.registry import StatsFunction
from capo_worker.stats.runner import StatsRunner

TENANT = "00000000-0000-0000-0000-000000000001"

# A small graph shaped like the real one: c reads a's output, d reads c's.
GRAPH = (
    StatsFunction("t_a", ("tag_a",)),
    StatsFunction("t_b", ("tag_b1", "tag_b2")),
    StatsFunction("t_c", ("tag_c",), depends_on=("t_a",)),
    StatsFunction("t_d", ("tag_d",), depends_on=("t_c",)),
)


def define(conn: psycopg.Connection[Any], name: str, body: str) -> None:
    conn.execute(
        f"""CREATE OR REPLACE FUNCTION {name}(tenant uuid DEFAULT '{TENANT}') RETURNS jsonb
            LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO runner_log (fn, tenant, as_of, started, finished)
                VALUES ('{name}', tenant, capo_today(), clock_timestamp(), NULL);
                {body}
                UPDATE runner_log SET finished = clock_timestamp()
                WHERE fn = '{name}' AND finished IS NULL;
                RETURN jsonb_build_object('rows', 1);
            END $$""".encode()
    )


@pytest.fixture
def graph_db(db_url: str) -> str:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "CREATE UNLOGGED TABLE runner_log (fn text, tenant uuid, as_of date, "
            "started timestamptz, finished timestamptz)"
        )
        for fn in GRAPH:
            define(conn, fn.name, "PERFORM pg_sleep(0.2);")
    return db_url


@pytest.fixture
async def pool(graph_db: str) -> AsyncIterator[AsyncConnectionPool]:
    p = make_pool(graph_db, max_size=8)
    await p.open()
    yield p
    await p.close()


def log_rows(url: str) -> dict[str, tuple[dt.datetime, dt.datetime | None, Any, Any]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT fn, started, finished, tenant, as_of FROM runner_log"
        ).fetchall()
    return {r[0]: (r[1], r[2], r[3], r[4]) for r in rows}


def rendezvous(me: str, other: str) -> str:
    """A body that waits (10 s at most) until `other` runs in another session, records
    whether it saw it, says so in its application_name, and waits for `other` to have seen
    it too (or to be gone): two independent functions that see each other ran together.
    pg_stat_activity is read once per transaction unless the snapshot is cleared, so each
    poll clears it: without that, a function that looked before the other started would
    never see it."""

    def running(name: str, suffix: str = "%") -> str:
        return (
            "EXISTS (SELECT FROM pg_stat_activity "
            f"WHERE application_name LIKE 'capo-worker {name}{suffix}')"
        )

    return f"""FOR i IN 1..200 LOOP
                   PERFORM pg_stat_clear_snapshot();
                   EXIT WHEN {running(other)};
                   PERFORM pg_sleep(0.05);
               END LOOP;
               INSERT INTO runner_seen VALUES ('{other}', {running(other)});
               PERFORM set_config('application_name', 'capo-worker {me} saw', true);
               FOR i IN 1..200 LOOP
                   PERFORM pg_stat_clear_snapshot();
                   EXIT WHEN {running(other, " saw")} OR NOT {running(other)};
                   PERFORM pg_sleep(0.05);
               END LOOP;"""


async def test_graph_runs_dependencies_first_and_independent_functions_together(
    pool: AsyncConnectionPool, graph_db: str
) -> None:
    with psycopg.connect(graph_db, autocommit=True) as conn:
        conn.execute("CREATE UNLOGGED TABLE runner_seen (other text, seen boolean)")
        define(conn, "t_a", rendezvous("t_a", "t_b"))
        define(conn, "t_b", rendezvous("t_b", "t_a"))
    report = await StatsRunner(pool, functions=GRAPH, parallelism=4).run(TENANT)
    assert report.ok and [r.status for r in report.results] == ["success"] * 4
    log = log_rows(graph_db)
    a, c, d = (log[n] for n in ("t_a", "t_c", "t_d"))
    assert a[1] is not None and c[0] >= a[1]  # c starts after a committed
    assert c[1] is not None and d[0] >= c[1]
    with psycopg.connect(graph_db) as conn:
        seen: dict[str, bool] = dict(conn.execute("SELECT other, seen FROM runner_seen").fetchall())
    assert seen == {"t_a": True, "t_b": True}  # a and b each saw the other running
    assert report.successful_tags == ["tag_a", "tag_b1", "tag_b2", "tag_c", "tag_d"]


async def test_sequential_runs_one_at_a_time(pool: AsyncConnectionPool, graph_db: str) -> None:
    await StatsRunner(pool, functions=GRAPH, parallelism=4).run(TENANT, sequential=True)
    spans = sorted((s, f) for s, f, _, _ in log_rows(graph_db).values())
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end is not None and start >= end


async def test_failure_skips_dependents_and_spares_the_rest(
    pool: AsyncConnectionPool, graph_db: str
) -> None:
    with psycopg.connect(graph_db, autocommit=True) as conn:
        define(conn, "t_a", "RAISE EXCEPTION 'Error in t_a: no matches';")
    report = await StatsRunner(pool, functions=GRAPH).run(TENANT)
    by_name = {r.function.name: r for r in report.results}
    assert by_name["t_a"].status == "failed"
    assert by_name["t_a"].error == "Database function error: Error in t_a: no matches"
    assert by_name["t_b"].status == "success"
    assert by_name["t_c"].status == "skipped" and "t_a" in (by_name["t_c"].error or "")
    assert by_name["t_d"].status == "skipped" and "t_c" in (by_name["t_d"].error or "")
    summary = report.summary().to_json()
    assert (summary["total_functions"], summary["successful_functions"]) == (4, 1)
    assert (summary["failed_functions"], summary["skipped_functions"]) == (1, 2)
    assert report.successful_tags == ["tag_b1", "tag_b2"]
    assert "t_a" not in log_rows(graph_db)  # its transaction rolled back


async def test_statement_timeout_fails_a_slow_function(
    pool: AsyncConnectionPool, graph_db: str
) -> None:
    with psycopg.connect(graph_db, autocommit=True) as conn:
        define(conn, "t_b", "PERFORM pg_sleep(5);")
    report = await StatsRunner(pool, functions=GRAPH, statement_timeout_seconds=0.5).run(TENANT)
    b = next(r for r in report.results if r.function.name == "t_b")
    assert b.status == "failed" and "statement timeout" in (b.error or "")
    assert sum(r.status == "success" for r in report.results) == 3


async def test_tenant_and_as_of_reach_the_function(
    pool: AsyncConnectionPool, graph_db: str
) -> None:
    other = "11111111-1111-1111-1111-111111111111"
    report = await StatsRunner(pool, functions=GRAPH[:1]).run(other, as_of=dt.date(2026, 5, 16))
    assert report.results[0].details == {"rows": 1}
    _, _, tenant, as_of = log_rows(graph_db)["t_a"]
    assert str(tenant) == other and as_of == dt.date(2026, 5, 16)


@pytest.mark.parametrize(
    "pin",
    [
        "ALTER DATABASE \"{db}\" SET capo.as_of = '2026-05-16'",
        "ALTER ROLE CURRENT_USER IN DATABASE \"{db}\" SET capo.as_of = '2026-05-16'",
    ],
    ids=["database", "role"],
)
async def test_a_database_or_role_level_as_of_is_honoured(graph_db: str, pin: str) -> None:
    """A staging database pinned to a date: the runner does not override the setting."""
    with psycopg.connect(graph_db, autocommit=True) as conn:
        db = conn.execute("SELECT current_database()").fetchone()
        assert db is not None
        conn.execute(pin.format(db=db[0]).encode())
    pool = make_pool(graph_db, max_size=2)
    await pool.open()
    try:
        await StatsRunner(pool, functions=GRAPH[:1]).run(TENANT)
    finally:
        await pool.close()
    assert log_rows(graph_db)["t_a"][3] == dt.date(2026, 5, 16)


async def test_only_runs_the_chosen_functions(pool: AsyncConnectionPool, graph_db: str) -> None:
    report = await StatsRunner(pool, functions=GRAPH).run(TENANT, only=(GRAPH[2],))
    assert [r.function.name for r in report.results] == ["t_c"]
    assert set(log_rows(graph_db)) == {"t_c"}


async def test_job_id_and_name_are_visible_to_the_function(pool: AsyncConnectionPool) -> None:
    async with pool.connection() as conn:
        await conn.execute(
            """CREATE FUNCTION t_whoami(tenant uuid) RETURNS jsonb LANGUAGE sql AS $$
                   SELECT jsonb_build_object('job', current_setting('capo.job_id', true),
                                             'app', current_setting('application_name'))
               $$"""
        )
    fn = StatsFunction("t_whoami", ("tag",))
    report = await StatsRunner(pool, functions=(fn,)).run(TENANT, job_id="job-42")
    assert report.results[0].details == {"job": "job-42", "app": "capo-worker t_whoami"}
