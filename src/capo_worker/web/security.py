"""Access control: ADMIN_API_KEY for the API (Bearer) and the pages (signed cookie).

- Without ADMIN_API_KEY the admin routes are open, and the server refuses to
  listen on anything but a loopback address (`check_listen_allowed`); the
  request guard (request_guard.py) keeps other sites' pages out.
- With it, the API wants `Authorization: Bearer <key>`; the pages have a
  sign-in form that sets a session cookie signed with a key derived from
  ADMIN_API_KEY (HMAC-SHA256, so changing the key signs everyone out). The
  page's scripts call the API with that cookie, and every cookie-authenticated
  request that changes something must carry the CSRF token the page was given
  (the sign-out form sends it as a field).
- A session names its browser and the session epochs current when it was
  issued (sessions.py); sign-out moves an epoch on, so copies of the cookie
  stop working too.
- Wrong keys are counted per client address (throttle.py).
- Keys and tokens are compared with `hmac.compare_digest` and never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from capo_worker.config import ConfigError, Settings
from capo_worker.hostnames import is_loopback
from capo_worker.web.context import WebContext
from capo_worker.web.errors import ApiError
from capo_worker.web.sessions import Epochs, current_epochs

log = logging.getLogger(__name__)

SESSION_COOKIE = "capo_admin_session"
CSRF_HEADER = "X-CSRF-Token"
SESSION_TTL_SECONDS = 12 * 3600
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Documents the Bearer scheme in OpenAPI; the check itself is `require_admin`.
bearer_scheme = HTTPBearer(auto_error=False, description="ADMIN_API_KEY, when the server has one")


def keys_match(given: str, expected: str) -> bool:
    """Constant-time comparison that also copes with non-ASCII input."""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def _signing_key(admin_key: str) -> bytes:
    return hashlib.sha256(b"capo-worker admin session\x00" + admin_key.encode("utf-8")).digest()


def _sign(admin_key: str, purpose: str, value: str) -> str:
    message = f"{purpose}\x00{value}".encode()
    return hmac.new(_signing_key(admin_key), message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Session:
    token: str
    expires: int
    browser: str  # random id, kept when the same browser signs in again
    epochs: Epochs  # current when the session was issued


def new_browser_id() -> str:
    return secrets.token_urlsafe(12)


def issue_session(admin_key: str, browser: str, epochs: Epochs, now: float | None = None) -> str:
    """A session token: expiry, browser, epochs, and their signature."""
    expires = int((time.time() if now is None else now) + SESSION_TTL_SECONDS)
    body = f"{expires}.{browser}.{epochs.every_session}.{epochs.browser}"
    return f"{body}.{_sign(admin_key, 'session', body)}"


def read_session(
    admin_key: str, token: str | None, now: float | None = None, *, expired_too: bool = False
) -> Session | None:
    """The session a token holds, if we signed it and (unless `expired_too`) it is unexpired.

    Whether it was signed out since is for `current_session` to say.
    """
    if not token or token.count(".") != 4:
        return None
    body, _, signature = token.rpartition(".")
    if not keys_match(signature, _sign(admin_key, "session", body)):
        return None
    expires, browser, every, mine = body.split(".")
    if not (expires.isdigit() and every.isdigit() and mine.isdigit()):
        return None
    if not expired_too and int(expires) <= (time.time() if now is None else now):
        return None
    return Session(token, int(expires), browser, Epochs(int(every), int(mine)))


async def current_session(request: Request, ctx: WebContext) -> Session | None:
    """The request's session, if it is signed, unexpired and not signed out."""
    key = ctx.settings.admin_api_key
    session = read_session(key, request.cookies.get(SESSION_COOKIE)) if key else None
    if session is None:
        return None
    async with ctx.pool.connection() as conn:
        epochs = await current_epochs(conn, session.browser)
    return session if epochs == session.epochs else None


def csrf_token(admin_key: str, session: str) -> str:
    return _sign(admin_key, "csrf", session)


@dataclass(frozen=True)
class Access:
    """Who is asking: nobody needs to sign in, or a key holder by header or cookie."""

    open: bool  # no ADMIN_API_KEY: everything is allowed
    via: str  # "open", "bearer" or "session"
    csrf: str | None = None  # the token pages embed for their scripts and forms


def _bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


async def page_access(request: Request, ctx: WebContext) -> Access | None:
    """The admin pages: open, or a current session cookie; None means 'sign in first'."""
    key = ctx.settings.admin_api_key
    if key is None:
        return Access(open=True, via="open")
    session = await current_session(request, ctx)
    if session is not None:
        return Access(open=False, via="session", csrf=csrf_token(key, session.token))
    return None


async def require_admin(
    request: Request,
    _documented: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Access:
    """FastAPI dependency of every /api/admin route (the Bearer scheme is for OpenAPI)."""
    ctx: WebContext = request.app.state.web
    key = ctx.settings.admin_api_key
    if key is None:
        return Access(open=True, via="open")
    token = _bearer_token(request)
    if token is not None:
        try:
            if try_key(request, token, key, "API"):
                return Access(open=False, via="bearer")
        except TooManyKeyAttempts as exc:
            raise ApiError(
                429,
                f"Too many wrong keys from your address: try again in {exc.retry_after} s",
                "Too many requests",
                headers={"Retry-After": str(exc.retry_after)},
            ) from None
        raise _unauthorized("Invalid API key")
    session = await current_session(request, ctx)
    if session is not None:
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not keys_match(sent, csrf_token(key, session.token)):
                raise ApiError(
                    403,
                    f"Missing or invalid {CSRF_HEADER} header: reload the admin page",
                    "Forbidden",
                    field=CSRF_HEADER,
                )
        return Access(open=False, via="session")
    raise _unauthorized("Missing API key")


class TooManyKeyAttempts(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = retry_after


def try_key(request: Request, given: str, key: str, where: str) -> bool:
    """Compare a key a client sent, counting wrong ones against its address.

    Raises TooManyKeyAttempts, without comparing, while the address must wait.
    """
    throttle = request.app.state.web.throttle
    client = client_address(request)
    wait = throttle.retry_after(client)
    if wait is not None:
        raise TooManyKeyAttempts(wait)
    if keys_match(given, key):
        return True
    line = throttle.failed(client, where)
    if line:
        log.warning(line)
    return False


def _unauthorized(what: str) -> ApiError:
    return ApiError(
        401,
        f"{what}: send the header Authorization: Bearer <ADMIN_API_KEY>",
        "Unauthorized",
        field="Authorization",
        headers={"WWW-Authenticate": 'Bearer realm="capo-worker"'},
    )


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown client"


MIN_PUBLIC_KEY_LENGTH = 16


def check_listen_allowed(settings: Settings) -> None:
    """Refuse to serve an unprotected (or weakly protected) admin API beyond this machine."""
    key = settings.admin_api_key
    if key is not None and len(key) < MIN_PUBLIC_KEY_LENGTH and not is_loopback(settings.host):
        raise ConfigError(
            f"Configuration error: ADMIN_API_KEY is {len(key)} characters long, too short to "
            f"guard HOST={settings.host!r}: it must have at least {MIN_PUBLIC_KEY_LENGTH} "
            "characters. Fix: set ADMIN_API_KEY to a long random secret (for example the output "
            "of: python -c 'import secrets; print(secrets.token_urlsafe(32))')."
        )
    if key is None and not is_loopback(settings.host):
        raise ConfigError(
            f"Configuration error: HOST={settings.host!r} would expose the admin API and pages "
            "without a key. Fix: set ADMIN_API_KEY to a long random secret (for example the "
            "output of: python -c 'import secrets; print(secrets.token_urlsafe(32))'), or set "
            "HOST=127.0.0.1 to serve this machine only."
        )
