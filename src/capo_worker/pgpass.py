"""The password libpq would take from a password file (~/.pgpass, PGPASSFILE or passfile=).

Only used to keep that password out of the logs, so it errs on the side of
finding one: the file's permissions are not checked (libpq ignores a file
others can read, but its password is still a secret).
"""

from __future__ import annotations

import getpass
from collections.abc import Mapping
from pathlib import Path

DEFAULT_PORT = "5432"


def _fields(line: str) -> list[str]:
    """host:port:database:user:password, with \\: and \\\\ escapes."""
    fields: list[str] = []
    current: list[str] = []
    escaped = False
    for char in line:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ":" and len(fields) < 4:
            fields.append("".join(current))
            current = []
        else:
            current.append(char)
    fields.append("".join(current))
    return fields


def _entries(path: Path) -> list[list[str]]:
    try:
        text = path.read_text("utf-8", errors="replace")
    except OSError:
        return []
    lines = (line.rstrip("\r") for line in text.splitlines())
    entries = [_fields(line) for line in lines if line and not line.startswith("#")]
    return [e for e in entries if len(e) == 5]


def _matches(pattern: str, value: str) -> bool:
    return pattern == "*" or pattern == value


def passfile_passwords(params: Mapping[str, str], environ: Mapping[str, str]) -> list[str]:
    """The password file's password for each host the connection string names."""
    path = params.get("passfile") or environ.get("PGPASSFILE")
    passfile = Path(path) if path else Path.home() / ".pgpass"
    entries = _entries(passfile)
    if not entries:
        return []
    hosts = (params.get("host") or params.get("hostaddr") or environ.get("PGHOST") or "").split(",")
    ports = (params.get("port") or environ.get("PGPORT") or DEFAULT_PORT).split(",")
    user = params.get("user") or environ.get("PGUSER") or getpass.getuser()
    database = params.get("dbname") or environ.get("PGDATABASE") or user
    found = []
    for index, host in enumerate(hosts):
        # A Unix socket (no host, or a directory) matches the entry "localhost".
        name = "localhost" if not host or host.startswith("/") else host
        port = ports[index] if len(ports) == len(hosts) else ports[0]
        for e_host, e_port, e_db, e_user, password in entries:
            if all(
                _matches(p, v)
                for p, v in ((e_host, name), (e_port, port or DEFAULT_PORT), (e_db, database))
            ) and _matches(e_user, user):
                found.append(password)
                break
    return list(dict.fromkeys(p for p in found if p))
