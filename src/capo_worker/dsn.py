"""Connection strings as libpq reads them: what is wrong with one, and how to show it.

Nothing here connects. A string is parsed the way libpq parses it, so the
password found (and hidden) is the one libpq would send.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import quote, quote_plus, urlencode

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from capo_worker.pgpass import passfile_passwords

URL_SCHEMES = ("postgresql://", "postgres://")
HIDDEN = "***"
# Parts of a URL that libpq fills from the text after the user info: an '@'
# there means the password had an unescaped '@' and libpq split it off early.
_AFTER_USER_INFO = ("host", "hostaddr", "port", "dbname")


def _parse_dsn(dsn: str) -> dict[str, str] | None:
    """The connection parameters as libpq reads them, or None if it cannot."""
    try:
        return {k: str(v) for k, v in conninfo_to_dict(dsn).items()}
    except psycopg.Error:
        return None


def _is_url(dsn: str) -> bool:
    return dsn.lstrip().lower().startswith(URL_SCHEMES)


def _spilled(dsn: str, params: dict[str, str]) -> list[str]:
    """Values libpq took from a URL whose password holds an unescaped '@' (or '/')."""
    if not _is_url(dsn):
        return []
    return [params[k] for k in _AFTER_USER_INFO if "@" in params.get(k, "")]


def dsn_problem(dsn: str) -> str | None:
    """Why libpq would misread this connection string, worded without its contents."""
    params = _parse_dsn(dsn)
    if params is None:
        return "is not a connection string libpq can read (check its quotes and spaces)"
    if _spilled(dsn, params):
        return (
            "has an unescaped '@' in its password or user name: write '@' as %40 "
            "(and '/' as %2F, ':' as %3A) in a postgresql:// URL"
        )
    return None


def redact_dsn(dsn: str) -> str:
    """The connection string without its password, fit for logs and pages.

    Parsed as libpq parses it, then written again (a URL as a URL) with the
    password as ***; a string libpq cannot parse is not shown at all.
    """
    params = _parse_dsn(dsn)
    if params is None:
        scheme, separator, _ = dsn.strip().partition("://")
        shown = f"{scheme}://" if separator and scheme.isalnum() else ""
        return f"{shown}{HIDDEN} (not a connection string libpq can read)"
    spilled = _spilled(dsn, params)
    if spilled:
        return (
            f"{dsn.strip().partition('://')[0]}://{HIDDEN} (an '@' in the password is not escaped)"
        )
    if "password" in params:
        params["password"] = HIDDEN
    return _as_url(dsn, params) if _is_url(dsn) else make_conninfo(**params)


def _as_url(dsn: str, params: dict[str, str]) -> str:
    scheme = dsn.strip().partition("://")[0]
    user = params.pop("user", None)
    password = params.pop("password", None)
    userinfo = ""
    if user is not None or password is not None:
        userinfo = quote(user or "", safe="") + (f":{password}" if password else "") + "@"
    hosts = params.get("host", "").split(",") if params.get("host") else []
    netloc = ""
    if hosts and not any(h.startswith("/") for h in hosts):
        ports = params.pop("port", "").split(",")
        del params["host"]
        netloc = ",".join(
            (f"[{h}]" if ":" in h else h)
            + (f":{ports[i] if len(ports) == len(hosts) else ports[0]}" if ports[0] else "")
            for i, h in enumerate(hosts)
        )
    dbname = params.pop("dbname", None)
    path = "/" + quote(dbname, safe="") if dbname is not None else ""
    query = urlencode(params, safe="/,")
    return f"{scheme}://{userinfo}{netloc}{path}" + (f"?{query}" if query else "")


def dsn_passwords(dsn: str, environ: Mapping[str, str] | None = None) -> list[str]:
    """Everything of the database password that must never reach a log.

    The password libpq reads (and its percent-encoded forms, as a URL may
    carry it), PGPASSWORD, the password file's entry when libpq would use one,
    and any piece of a password libpq took for the host of a malformed URL.
    """
    env = os.environ if environ is None else environ
    params = _parse_dsn(dsn)
    if params is None:
        return []
    password = params.get("password") or env.get("PGPASSWORD")
    found = [password] if password else passfile_passwords(params, env)
    found += [quote(p, safe="") for p in found] + [quote_plus(p, safe="") for p in found]
    found += _spilled(dsn, params)
    return [p for p in dict.fromkeys(found) if p]
