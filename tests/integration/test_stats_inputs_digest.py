"""The digest of players and app_config that decides whether a post-match job may be scoped.

capo_stats_inputs_digest (stats/sql/capo_stats_scope.sql) hashes each row of
the columns the stats read; a change to any of them must change the digest
(the next post-match job then runs in full), while columns the stats do not
read must not. A post-match job's record keeps the digest its decision saw;
a full job records nothing when the digest changed while it ran.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from capo_worker.constants import DEFAULT_TENANT_ID
from capo_worker.job_row import Job
from capo_worker.stats import scope
from tests.support.leagues import load_fixture


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection[Any]]:
    load_fixture(db_url, "tiny")
    with psycopg.connect(db_url, autocommit=True) as connection:
        yield connection


def digest(conn: psycopg.Connection[Any]) -> str:
    row = conn.execute("SELECT capo_stats_inputs_digest(%s::uuid)", (DEFAULT_TENANT_ID,))
    value = row.fetchone()
    assert value is not None
    return str(value[0])


def a_player(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute(
        "SELECT min(player_id) FROM players WHERE tenant_id = %s::uuid", (DEFAULT_TENANT_ID,)
    ).fetchone()
    assert row is not None and row[0] is not None
    return int(row[0])


@pytest.mark.parametrize(
    "change",
    [
        "name = left(name, 12) || 'x'",
        "join_date = COALESCE(join_date, DATE '2020-01-01') + 1",
        "is_ringer = NOT is_ringer",
        "is_retired = NOT COALESCE(is_retired, false)",
        "is_retired = NULL",
        'selected_club = \'{"name": "another club"}\'::jsonb',
    ],
)
def test_a_change_to_a_column_the_stats_read_changes_the_digest(
    conn: psycopg.Connection[Any], change: str
) -> None:
    before = digest(conn)
    player = a_player(conn)
    conn.execute(f"UPDATE players SET {change} WHERE player_id = %s", (player,))
    assert digest(conn) != before


def test_other_columns_and_an_unchanged_rewrite_keep_the_digest(
    conn: psycopg.Connection[Any],
) -> None:
    before = digest(conn)
    player = a_player(conn)
    conn.execute(
        "UPDATE players SET profile_text = 'a new profile', goalscoring = 5, name = name "
        "WHERE player_id = %s",
        (player,),
    )
    assert digest(conn) == before


def test_two_players_swapping_a_value_changes_the_digest(conn: psycopg.Connection[Any]) -> None:
    # The per-row hashes are summed: a swap between rows must still show.
    rows = conn.execute(
        """SELECT player_id FROM players WHERE tenant_id = %s::uuid
           ORDER BY player_id LIMIT 2""",
        (DEFAULT_TENANT_ID,),
    ).fetchall()
    first, second = (int(r[0]) for r in rows)
    # Make the two rows differ, then swap their values.
    conn.execute(
        """UPDATE players SET is_ringer = NOT is_ringer,
                  join_date = COALESCE(join_date, DATE '2020-01-01') + 7
           WHERE player_id = %s""",
        (first,),
    )
    before = digest(conn)
    conn.execute(
        """UPDATE players p SET join_date = q.join_date, is_ringer = q.is_ringer
           FROM players q
           WHERE (p.player_id, q.player_id) IN ((%s, %s), (%s, %s))""",
        (first, second, second, first),
    )
    assert digest(conn) != before


def test_app_config_insert_update_and_delete_change_the_digest(
    conn: psycopg.Connection[Any],
) -> None:
    first = digest(conn)
    seen = {first}
    conn.execute(
        """INSERT INTO app_config (tenant_id, config_key, config_value)
           VALUES (%s::uuid, 'fantasy_win_points', '20')""",
        (DEFAULT_TENANT_ID,),
    )
    seen.add(digest(conn))
    conn.execute(
        """UPDATE app_config SET config_value = '21'
           WHERE tenant_id = %s::uuid AND config_key = 'fantasy_win_points'""",
        (DEFAULT_TENANT_ID,),
    )
    seen.add(digest(conn))
    conn.execute(
        "DELETE FROM app_config WHERE tenant_id = %s::uuid AND config_key = 'fantasy_win_points'",
        (DEFAULT_TENANT_ID,),
    )
    after_delete = digest(conn)
    assert len(seen) == 3
    assert after_delete == first  # no row again: the digest of no config


def match_change(conn: psycopg.Connection[Any], match_id: int) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT capo_stats_match_change(%s::uuid, %s)", (DEFAULT_TENANT_ID, match_id)
    ).fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


def latest_match(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute(
        "SELECT max(match_id) FROM matches WHERE tenant_id = %s::uuid", (DEFAULT_TENANT_ID,)
    ).fetchone()
    assert row is not None and row[0] is not None
    return int(row[0])


def test_a_post_match_record_keeps_the_digest_its_decision_saw(
    conn: psycopg.Connection[Any],
) -> None:
    # A player renamed while a post-match job runs: the job's record keeps the
    # digest of the last complete run, so the next post-match job runs in full.
    match_id = latest_match(conn)
    conn.execute("SELECT capo_stats_remember_run(%s::uuid, NULL)", (DEFAULT_TENANT_ID,))
    change = match_change(conn, match_id)
    assert change is not None and change["inputs_same"] is True
    conn.execute(
        "UPDATE players SET name = left(name, 12) || 'x' WHERE player_id = %s", (a_player(conn),)
    )
    conn.execute("SELECT capo_stats_remember_run(%s::uuid, %s)", (DEFAULT_TENANT_ID, match_id))
    change = match_change(conn, match_id)
    assert change is not None and change["inputs_same"] is False
    # A full run records the players as they are now.
    conn.execute("SELECT capo_stats_remember_run(%s::uuid, NULL)", (DEFAULT_TENANT_ID,))
    change = match_change(conn, match_id)
    assert change is not None and change["inputs_same"] is True


def test_a_post_match_record_without_state_records_nothing(
    conn: psycopg.Connection[Any],
) -> None:
    match_id = latest_match(conn)
    conn.execute("SELECT capo_stats_remember_run(%s::uuid, NULL)", (DEFAULT_TENANT_ID,))
    conn.execute("SELECT capo_stats_forget_run(%s::uuid)", (DEFAULT_TENANT_ID,))
    conn.execute("SELECT capo_stats_remember_run(%s::uuid, %s)", (DEFAULT_TENANT_ID, match_id))
    assert match_change(conn, match_id) is None  # the next job runs in full


def recorded(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute(
        "SELECT count(*) FROM capo_stats_scope_state WHERE tenant_id = %s::uuid",
        (DEFAULT_TENANT_ID,),
    ).fetchone()
    return row is not None and row[0] == 1


def full_job_decision_and_record(db_url: str, between: Callable[[], None]) -> None:
    """A full job's decision, `between` in place of its run, then its record."""

    async def go() -> None:
        async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as aconn:
            job = Job.of_row({"id": str(uuid.uuid4()), "trigger": "admin", "job_payload": {}})
            decided = await scope.decide(aconn, job, DEFAULT_TENANT_ID, ["update_power_ratings"])
            assert decided.match_id is None and decided.inputs_digest is not None
            between()
            await scope.remember(aconn, DEFAULT_TENANT_ID, decided, ok=True)

    asyncio.run(go())


def test_a_full_job_records_its_run_when_the_inputs_held_still(
    conn: psycopg.Connection[Any], db_url: str
) -> None:
    full_job_decision_and_record(db_url, lambda: None)
    assert recorded(conn)


def test_a_full_job_records_nothing_when_a_player_changed_during_its_run(
    conn: psycopg.Connection[Any], db_url: str
) -> None:
    conn.execute("SELECT capo_stats_remember_run(%s::uuid, NULL)", (DEFAULT_TENANT_ID,))
    player = a_player(conn)

    def rename() -> None:
        conn.execute("UPDATE players SET name = name || 'x' WHERE player_id = %s", (player,))

    # The run may have read the old name: the next post-match job must run in full.
    full_job_decision_and_record(db_url, rename)
    assert not recorded(conn)
