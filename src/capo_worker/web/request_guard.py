"""Refuses what a browser could be tricked into sending: cross-site writes, rebound names.

Three rules, with or without ADMIN_API_KEY, before any route runs:

- **Host.** The request must name this server: a loopback name, HOST when it
  is a specific address, an ALLOWED_HOSTS entry, or PUBLIC_URL's host. A page
  whose DNS name was "rebound" to 127.0.0.1 sends its own name and gets 421
  (400 when the Host is missing or malformed). The probes (/healthz, /readyz,
  /metrics) are exempt: orchestrators call them by the container's address,
  and they answer the same to anyone who can reach the port.
- **Origin.** A request that changes something (any method but GET, HEAD,
  OPTIONS) whose `Origin` is not this server's own (the Host it was sent to,
  or PUBLIC_URL) gets 403; so does one without Origin that a browser marks
  `Sec-Fetch-Site: cross-site` or `same-site`. Programs send no Origin and
  pass.
- **Content type.** The body of a request that changes something must be
  `application/json` (charset utf-8 if one is named), or for the sign-in and
  sign-out forms `application/x-www-form-urlencoded`; anything else gets 415.
  A cross-site page can send neither JSON nor a custom header without a CORS
  preflight, which this server never grants.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from capo_worker.config import Settings
from capo_worker.hostnames import is_loopback, is_wildcard, split_host_header
from capo_worker.web.errors import error_body
from capo_worker.web.security import SAFE_METHODS

PROBE_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
FORM_PATHS = frozenset({"/admin/signin", "/admin/signout"})
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
_DEFAULT_PORTS = {"http": 80, "https": 443}

Origin = tuple[str, str, int]  # scheme, host name, port


@dataclass(frozen=True)
class HostPolicy:
    """The names this server answers to, and the origin it is published at."""

    names: frozenset[str]
    suffixes: tuple[str, ...]  # ".example.com": example.com and every subdomain
    public_origin: Origin | None

    @classmethod
    def of(cls, settings: Settings) -> HostPolicy:
        names = {n for n in settings.allowed_host_names if not n.startswith(".")}
        suffixes = tuple(n for n in settings.allowed_host_names if n.startswith("."))
        if not is_wildcard(settings.host):
            names.add(settings.host.strip("[]").lower())
        public = parse_origin(settings.public_url) if settings.public_url else None
        if public is not None:
            names.add(public[1])
        return cls(frozenset(names), suffixes, public)

    def serves(self, name: str) -> bool:
        return (
            is_loopback(name)
            or name in self.names
            or any(name == s[1:] or name.endswith(s) for s in self.suffixes)
        )


def unnamed_server_warning(settings: Settings) -> str | None:
    """What to tell an operator whose server listens everywhere but knows no name of its own."""
    if not is_wildcard(settings.host) or settings.allowed_host_names or settings.public_url:
        return None
    return (
        f"HOST={settings.host} listens on every interface, but neither ALLOWED_HOSTS nor "
        "PUBLIC_URL names this server: requests that call it by any name but a loopback one "
        "get 421. Set ALLOWED_HOSTS to the names clients use (or PUBLIC_URL)."
    )


def parse_origin(value: str) -> Origin | None:
    """scheme, host and port of an Origin (or of a URL); None for 'null' or garbage."""
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower().removesuffix("."), port or _DEFAULT_PORTS[scheme]


def _media_type(value: str) -> tuple[str, dict[str, str]]:
    kind, *params = value.split(";")
    parsed = {}
    for param in params:
        name, _, given = param.partition("=")
        parsed[name.strip().lower()] = given.strip().strip('"').lower()
    return kind.strip().lower(), parsed


class RequestGuard:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.policy = HostPolicy.of(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self.refusal(scope)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        status, error, message = refusal
        await JSONResponse(error_body(error, message), status_code=status)(scope, receive, send)

    def refusal(self, scope: Scope) -> tuple[int, str, str] | None:
        headers = Headers(scope=scope)
        path: str = scope["path"]
        host = split_host_header(headers.get("host", ""))
        if path not in PROBE_PATHS:
            if host is None:
                return (
                    400,
                    "Missing or malformed Host header: send the server's name, such as "
                    "Host: 127.0.0.1:8000",
                    "Bad request",
                )
            if not self.policy.serves(host[0]):
                return (
                    421,
                    f"This server does not answer to the name {host[0]!r}: add it to "
                    "ALLOWED_HOSTS (or set PUBLIC_URL) if it is this server's",
                    "Misdirected request",
                )
        if scope["method"] in SAFE_METHODS:
            return None
        problem = self._foreign_origin(headers, host)
        if problem:
            return 403, problem, "Forbidden"
        return self._wrong_content_type(headers, path)

    def _foreign_origin(self, headers: Headers, host: tuple[str, int | None] | None) -> str | None:
        given = headers.get("origin")
        if given is None:
            site = headers.get("sec-fetch-site", "").lower()
            if site in ("cross-site", "same-site"):
                return f"Cross-site request (Sec-Fetch-Site: {site}): Origin check failed"
            return None
        origin = parse_origin(given)
        if origin is not None and (origin == self.policy.public_origin or _same_host(origin, host)):
            return None
        return (
            f"Origin {given[:100]!r} is not this server's: requests that change something must "
            "come from this server's own pages (set PUBLIC_URL if a proxy renames it)"
        )

    @staticmethod
    def _wrong_content_type(headers: Headers, path: str) -> tuple[int, str, str] | None:
        """Only for requests that change something: GET bodies are ignored by every route."""
        declared = headers.get("content-type")
        has_body = headers.get("content-length", "0") != "0" or "transfer-encoding" in headers
        if declared is None and not has_body:
            return None
        kind, params = _media_type(declared or "")
        if path in FORM_PATHS:
            if kind == FORM:
                return None
            return (
                415,
                f"The sign-in and sign-out forms take {FORM} bodies, not {kind or 'untyped ones'}",
                "Unsupported media type",
            )
        if kind == JSON and params.get("charset", "utf-8") == "utf-8":
            return None
        return (
            415,
            f"Request bodies must be {JSON} (UTF-8), not {declared or 'untyped'}: send the "
            f"header Content-Type: {JSON}",
            "Unsupported media type",
        )


def _same_host(origin: Origin, host: tuple[str, int | None] | None) -> bool:
    """The Origin names the host and port this request was sent to."""
    if host is None:
        return False
    scheme, name, port = origin
    return name == host[0] and port == (host[1] or _DEFAULT_PORTS[scheme])
