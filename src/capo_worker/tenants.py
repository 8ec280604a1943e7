"""Tenants: the clubs sharing one database, and all the SQL that asks about them.

A tenant is a row of `tenants`; it "has a league" when any of the four input
tables holds a row of it. The default tenant (constants.DEFAULT_TENANT_ID)
always exists: migrations create it, and rows written without a tenant are
its rows.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from capo_worker.constants import DEFAULT_TENANT_ID

Conn = psycopg.AsyncConnection[Any]

# The input tables; a tenant with a row in any of them has a league of its own.
LEAGUE_TABLES = ("players", "matches", "player_matches", "app_config")


class UnknownTenantError(Exception):
    """A --tenant / tenantId value that names no tenant."""


@dataclass(frozen=True)
class Tenant:
    id: str
    name: str


def _as_uuid(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


async def resolve_tenant(conn: Conn, value: str | None, *, create: bool = False) -> str:
    """The tenant id for a uuid or a tenant name; None means the default tenant.

    With `create`, an unknown name becomes a new tenant.
    """
    if value is None or value == "":
        return DEFAULT_TENANT_ID
    as_uuid = _as_uuid(value)
    cur = await conn.execute(
        "SELECT tenant_id::text FROM tenants WHERE tenant_id::text = %s OR name = %s",
        (as_uuid or "", value),
    )
    row = await cur.fetchone()
    if row:
        return str(row[0])
    if not create:
        raise UnknownTenantError(
            f"unknown tenant {value!r}: give a tenant name or id that exists "
            "(capo-worker league import --tenant NAME creates one)"
        )
    cur = await conn.execute(
        "INSERT INTO tenants (tenant_id, name) VALUES (COALESCE(%s::uuid, gen_random_uuid()), %s) "
        "RETURNING tenant_id::text",
        (as_uuid, value),
    )
    created = await cur.fetchone()
    assert created is not None
    return str(created[0])


async def list_tenants(conn: Conn) -> list[Tenant]:
    """Every tenant, by name (for the pages' tenant pickers)."""
    cur = await conn.execute("SELECT tenant_id::text, name FROM tenants ORDER BY name")
    return [Tenant(str(r[0]), str(r[1])) for r in await cur.fetchall()]


def choose(tenants: list[Tenant], wanted: str | None) -> Tenant | None:
    """The tenant a page parameter names (its id or its name), if any."""
    return next((t for t in tenants if wanted in (t.id, t.name)), None)


async def tenant_ids(conn: Conn) -> list[str]:
    """Every tenant id, oldest first; the default tenant when the table is empty."""
    cur = await conn.execute("SELECT tenant_id::text FROM tenants ORDER BY created_at")
    return [str(row[0]) for row in await cur.fetchall()] or [DEFAULT_TENANT_ID]


def _holds_rows(tenant: sql.Composable) -> sql.Composable:
    """SQL: the tenant has a row in one of the input tables."""
    return sql.SQL(" OR ").join(
        sql.SQL("EXISTS (SELECT FROM {} x WHERE x.tenant_id = {})").format(
            sql.Identifier(table), tenant
        )
        for table in LEAGUE_TABLES
    )


async def has_league(conn: Conn, tenant_id: str) -> bool:
    """The tenant has rows in any input table (a league import would need --replace)."""
    cur = await conn.execute(
        sql.SQL("SELECT {}").format(_holds_rows(sql.Placeholder("tenant"))),
        {"tenant": tenant_id},
    )
    row = await cur.fetchone()
    return bool(row and row[0])


async def other_clubs(conn: Conn) -> list[str]:
    """Names of the tenants besides the default one that have a league."""
    cur = await conn.execute(
        sql.SQL("SELECT t.name FROM tenants t WHERE t.tenant_id <> %s AND ({}) ORDER BY 1").format(
            _holds_rows(sql.SQL("t.tenant_id"))
        ),
        (DEFAULT_TENANT_ID,),
    )
    return [str(r[0]) for r in await cur.fetchall()]
