"""What every route needs: the settings and the connection pool (on app.state.web)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from psycopg_pool import AsyncConnectionPool

from capo_worker.config import Settings


@dataclass(frozen=True)
class WebContext:
    settings: Settings
    pool: AsyncConnectionPool


def web_context(request: Request) -> WebContext:
    ctx: WebContext = request.app.state.web
    return ctx
