"""What every route needs: settings, connection pool, key throttle (on app.state.web)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from psycopg_pool import AsyncConnectionPool

from capo_worker.config import Settings
from capo_worker.web.throttle import AuthThrottle


@dataclass(frozen=True)
class WebContext:
    settings: Settings
    pool: AsyncConnectionPool
    throttle: AuthThrottle  # wrong keys per client address


def web_context(request: Request) -> WebContext:
    ctx: WebContext = request.app.state.web
    return ctx
