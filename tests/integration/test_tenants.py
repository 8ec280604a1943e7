"""One answer to "does this tenant have a league?" for the demo, the import and rollback."""

from __future__ import annotations

import psycopg
import pytest

from capo_worker.cli.demo import ensure_demo_league
from capo_worker.constants import DEFAULT_TENANT_ID
from capo_worker.league.demo import generate_league
from capo_worker.league.importer import import_league
from capo_worker.league.model import LeagueFileError
from capo_worker.tenants import has_league, other_clubs, resolve_tenant, tenant_ids
from tests.support.db import execute, scalar


async def test_config_alone_is_a_league_for_the_demo_and_the_import_alike(db_url: str) -> None:
    """The app's settings were saved, no match yet: the demo keeps them instead of failing
    in the import it would otherwise try."""
    execute(
        db_url,
        "INSERT INTO app_config (config_key, config_value, tenant_id) VALUES ('x', '1', %s)",
        DEFAULT_TENANT_ID,
    )
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        assert await has_league(conn, DEFAULT_TENANT_ID)
        assert await ensure_demo_league(conn) is None
        with pytest.raises(LeagueFileError, match="already has a league"):
            await import_league(conn, generate_league(size="tiny"), DEFAULT_TENANT_ID)
    assert scalar(db_url, "SELECT count(*) FROM matches") == 0


async def test_an_empty_tenant_gets_the_demo_league_and_then_has_one(db_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        assert not await has_league(conn, DEFAULT_TENANT_ID)
        assert await ensure_demo_league(conn)
        assert await has_league(conn, DEFAULT_TENANT_ID)
        assert await ensure_demo_league(conn) is None
        club = await resolve_tenant(conn, "club2", create=True)
        assert await other_clubs(conn) == []  # a tenant without a league is no club yet
        await import_league(conn, generate_league(size="tiny"), club, renumber=True)
        assert await other_clubs(conn) == ["club2"]
        assert await tenant_ids(conn) == [DEFAULT_TENANT_ID, club]
