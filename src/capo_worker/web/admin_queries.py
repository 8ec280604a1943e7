"""What the admin page reads besides the jobs and the tenants: cache timestamps."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import psycopg

Conn = psycopg.AsyncConnection[Any]


@dataclass(frozen=True)
class CacheStamp:
    key: str
    last_invalidated: dt.datetime


async def cache_stamps(conn: Conn, tenant_id: str) -> list[CacheStamp]:
    """cache_metadata of one tenant: when each cache key was last refreshed."""
    cur = await conn.execute(
        "SELECT cache_key, last_invalidated FROM cache_metadata WHERE tenant_id = %s "
        "ORDER BY cache_key",
        (tenant_id,),
    )
    return [CacheStamp(str(r[0]), r[1]) for r in await cur.fetchall()]
