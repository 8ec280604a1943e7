"""The worker's database sessions: settings derived from the lease, keepalives."""

from __future__ import annotations

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from capo_worker.db import DedicatedConnection, client_keepalives, make_pool


async def test_pooled_sessions_get_the_lease_derived_timeouts(db_url: str) -> None:
    pool = make_pool(db_url, max_size=2, lease_seconds=9)
    await pool.open()
    try:
        async with pool.connection() as conn:
            cur = await conn.execute(
                "SELECT current_setting('idle_in_transaction_session_timeout'), "
                "current_setting('lock_timeout')"
            )
            assert await cur.fetchone() == ("9s", "9s")
    finally:
        await pool.close()


async def test_other_pools_keep_the_server_defaults(db_url: str) -> None:
    pool = make_pool(db_url, max_size=2)
    await pool.open()
    try:
        async with pool.connection() as conn:
            cur = await conn.execute("SELECT current_setting('lock_timeout')")
            assert await cur.fetchone() == ("0",)
    finally:
        await pool.close()


def test_keepalives_fit_in_the_lease_and_the_connection_string_wins() -> None:
    url = "postgresql://capo@db.example.com:5432/capo"
    assert client_keepalives(url, 60) == {
        "keepalives": 1,
        "keepalives_idle": 20,
        "keepalives_interval": 6,
        "keepalives_count": 3,
        "tcp_user_timeout": 60000,
    }
    given = make_conninfo(url, keepalives_idle="120")
    assert "keepalives_idle" not in client_keepalives(given, 60)
    assert client_keepalives(url, 5)["keepalives_interval"] == 1  # never 0 (off)


async def test_a_dedicated_session_is_set_up_like_the_pool_and_replaced_when_dropped(
    db_url: str,
) -> None:
    session = DedicatedConnection(db_url, lease_seconds=9, name="capo-test", check_after_idle=0)
    try:
        async with session.connection() as conn:
            cur = await conn.execute(
                "SELECT pg_backend_pid(), current_setting('lock_timeout'), "
                "current_setting('application_name')"
            )
            row = await cur.fetchone()
        assert row is not None
        first_pid, lock_timeout, name = row
        assert (lock_timeout, name) == ("9s", "capo-test")
        async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as other:
            await other.execute("SELECT pg_terminate_backend(%s)", (first_pid,))
        # Dropped while idle (a proxy's timeout, a restart): checked, replaced, no error.
        async with session.connection() as conn:
            cur = await conn.execute("SELECT pg_backend_pid()")
            again = await cur.fetchone()
        assert again is not None and again[0] != first_pid
        # An error in use closes the session; the next use opens a fresh one.
        with pytest.raises(psycopg.errors.DivisionByZero):
            async with session.connection() as conn:
                await conn.execute("SELECT 1 / 0")
        async with session.connection() as conn:
            cur = await conn.execute("SELECT 1")
            assert await cur.fetchone() == (1,)
    finally:
        await session.close()
