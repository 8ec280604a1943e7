"""The FastAPI application: API routes, pages, static files, limits and headers."""

from __future__ import annotations

from importlib import metadata
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.staticfiles import StaticFiles
from psycopg_pool import AsyncConnectionPool

from capo_worker.config import Settings
from capo_worker.web import (
    admin_pages,
    api_docs,
    enqueue,
    health,
    jobs_api,
    league_pages,
    player_pages,
)
from capo_worker.web.context import WebContext
from capo_worker.web.errors import install_error_handlers
from capo_worker.web.middleware import BodySizeLimit, SecurityHeaders
from capo_worker.web.request_guard import RequestGuard
from capo_worker.web.templating import STATIC_DIR
from capo_worker.web.throttle import AuthThrottle

DESCRIPTION = """\
Enqueue stats updates, follow and retry jobs, probe health, scrape metrics.

When the server has an ADMIN_API_KEY, every /api/admin route wants
`Authorization: Bearer <ADMIN_API_KEY>`. Errors are
`{"success": false, "error": ..., "message": ..., "field": ...}`.
"""


def create_app(settings: Settings, pool: AsyncConnectionPool) -> FastAPI:
    """The app over an open pool; the caller owns the pool and closes it."""
    app = FastAPI(
        title="capo-worker",
        version=_version(),
        description=DESCRIPTION,
        docs_url=None,  # FastAPI's loads Swagger UI from a CDN: web/api_docs.py serves it
        redoc_url=None,
    )
    throttle = AuthThrottle(settings.auth_failure_limit, settings.auth_failure_window_seconds)
    app.state.web = WebContext(settings, pool, throttle)
    install_error_handlers(app)
    for router in (
        enqueue.router,
        jobs_api.router,
        health.router,
        admin_pages.router,
        league_pages.router,
        api_docs.router,
        player_pages.router,
    ):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.mount(api_docs.ASSETS_PATH, api_docs.swagger_ui_files(), name="docs-assets")
    # The last added runs first: headers on every answer, then the guard, then the size limit.
    app.add_middleware(BodySizeLimit, limit=settings.max_request_body_bytes)
    app.add_middleware(RequestGuard, settings=settings)
    https_only = (settings.public_url or "").lower().startswith("https://")
    app.add_middleware(SecurityHeaders, https_only=https_only)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _version() -> str:
    try:
        return metadata.version("capo-worker")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema without its 422 answers: validation errors here are 400s."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        open_access = app.state.web.settings.admin_api_key is None
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                operation.get("responses", {}).pop("422", None)
                if open_access:  # no key on this server: nothing to authenticate with
                    operation.pop("security", None)
                    operation.get("responses", {}).pop("401", None)
                    operation.get("responses", {}).pop("429", None)
        if open_access:
            schema.get("components", {}).pop("securitySchemes", None)
        components = schema.get("components", {}).get("schemas", {})
        for unused in ("HTTPValidationError", "ValidationError"):
            components.pop(unused, None)
        app.openapi_schema = schema
    return app.openapi_schema
