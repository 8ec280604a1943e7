"""Tenants: one club's league in a shared database, named by uuid or by name."""

from __future__ import annotations

import uuid

import psycopg

from capo_worker.config import DEFAULT_TENANT_ID


class UnknownTenantError(Exception):
    """A --tenant / tenantId value that names no tenant."""


def _as_uuid(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


async def resolve_tenant(
    conn: psycopg.AsyncConnection[tuple[object, ...]], value: str | None, *, create: bool = False
) -> str:
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
