"""What the admin page reads besides the jobs: tenants and cache timestamps."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import psycopg

Conn = psycopg.AsyncConnection[Any]


@dataclass(frozen=True)
class Tenant:
    id: str
    name: str


@dataclass(frozen=True)
class CacheStamp:
    key: str
    last_invalidated: dt.datetime


async def list_tenants(conn: Conn) -> list[Tenant]:
    cur = await conn.execute("SELECT tenant_id::text, name FROM tenants ORDER BY name")
    return [Tenant(str(r[0]), str(r[1])) for r in await cur.fetchall()]


async def cache_stamps(conn: Conn, tenant_id: str) -> list[CacheStamp]:
    """cache_metadata of one tenant: when each cache key was last refreshed."""
    cur = await conn.execute(
        "SELECT cache_key, last_invalidated FROM cache_metadata WHERE tenant_id = %s "
        "ORDER BY cache_key",
        (tenant_id,),
    )
    return [CacheStamp(str(r[0]), r[1]) for r in await cur.fetchall()]
