"""Session epochs in the database (capo_admin_session_epochs): what makes sign-out stick.

Every web process reads the same rows, so a sign-out on one is a sign-out on
all. A browser's row can go once its sessions have all expired: a session
lives SESSION_TTL_SECONDS, so a day after the row last changed nothing it
revoked is valid anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

EVERY_SESSION = "*"
FORGET_AFTER_SECONDS = 24 * 3600

Conn = psycopg.AsyncConnection[Any]


def browser_scope(browser: str) -> str:
    return f"browser:{browser}"


@dataclass(frozen=True)
class Epochs:
    every_session: int
    browser: int


async def current_epochs(conn: Conn, browser: str) -> Epochs:
    cur = await conn.execute(
        "SELECT scope, epoch FROM capo_admin_session_epochs WHERE scope IN (%s, %s)",
        (EVERY_SESSION, browser_scope(browser)),
    )
    found = {str(scope): int(epoch) for scope, epoch in await cur.fetchall()}
    return Epochs(found.get(EVERY_SESSION, 0), found.get(browser_scope(browser), 0))


async def end_sessions(conn: Conn, browser: str | None) -> None:
    """End every session of `browser`, or every session at all when it is None."""
    async with conn.transaction():
        await conn.execute(
            """INSERT INTO capo_admin_session_epochs (scope, epoch) VALUES (%s, 1)
               ON CONFLICT (scope) DO UPDATE
               SET epoch = capo_admin_session_epochs.epoch + 1, changed_at = now()""",
            (EVERY_SESSION if browser is None else browser_scope(browser),),
        )
        await conn.execute(
            """DELETE FROM capo_admin_session_epochs
               WHERE scope <> %s AND changed_at < now() - make_interval(secs => %s)""",
            (EVERY_SESSION, FORGET_AFTER_SECONDS),
        )
