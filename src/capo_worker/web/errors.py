"""Error bodies of the API: the seed's `{success: false, error, message}`, plus `field`.

Every 4xx and 5xx the API answers has this shape, including the ones raised
by FastAPI's own validation of query and path parameters (turned into 400
naming the parameter, instead of FastAPI's 422).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from capo_worker.text import one_line

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error answer: status, what went wrong (`error`), a short `message`, the field."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.message = message
        self.field = field
        self.headers = headers


def error_body(error: str, message: str, field: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"success": False, "error": error, "message": message}
    if field is not None:
        body["field"] = field
    return body


def error_response(
    status: int,
    error: str,
    message: str,
    *,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(error_body(error, message, field), status_code=status, headers=headers)


def _location(loc: Sequence[Any]) -> str:
    # ('query', 'limit') -> 'limit'; ('path', 'id') -> 'id'
    parts = [str(p) for p in loc if p not in ("query", "path", "body", "header", "cookie")]
    return ".".join(parts) or "request"


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.error, exc.message, field=exc.field, headers=exc.headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    field = _location(first.get("loc", ()))
    return error_response(
        400, f"Invalid {field}: {first.get('msg', 'invalid value')}", "Invalid request", field=field
    )


_STATUS_MESSAGES = {
    404: "Not found",
    405: "Method not allowed",
    413: "Payload too large",
}


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def _allowed_methods(request: Request) -> str:
    """Every method some route serves on this path (Starlette names only the first route's)."""
    allowed = [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL
            for route in request.app.router.routes
        )
    ]
    return ", ".join(allowed)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    message = _STATUS_MESSAGES.get(exc.status_code, "Request failed")
    error = exc.detail if isinstance(exc.detail, str) else message
    headers = dict(exc.headers) if exc.headers else {}
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request) or headers.get("Allow", "")
    return error_response(exc.status_code, error, message, headers=headers or None)


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    """A database that cannot be reached is a 503 in the usual shape, never a bare 500."""
    assert isinstance(exc, psycopg.Error)
    reason = one_line(exc) or type(exc).__name__
    log.error("%s %s: database error: %s", request.method, request.url.path, reason)
    if isinstance(exc, psycopg.OperationalError):
        return error_response(503, f"Database unavailable: {reason}", "Service unavailable")
    return error_response(500, f"Database error: {reason}", "Internal server error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(psycopg.Error, _database_error)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
