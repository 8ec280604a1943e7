"""Log lines never carry a secret: not in a message, not in the access log's query strings."""

from __future__ import annotations

import logging
from urllib.parse import quote

import pytest

from capo_worker.logs import RedactSecrets

KEY = "Adm1n/key+with=odd&chars"


def every_byte_escaped(text: str) -> str:
    return "".join(f"%{b:02X}" for b in text.encode())


def access_line(path_with_query: str) -> str:
    """What uvicorn's access logger writes for a request, after our filter."""
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:50000", "GET", path_with_query, "1.1", 401),
        None,
    )
    assert RedactSecrets([KEY]).filter(record)
    return record.getMessage()


@pytest.mark.parametrize(
    "query",
    [
        f"key={every_byte_escaped(KEY)}",  # percent-encoded, every byte
        f"api_key={quote(KEY, safe='')}",
        f"token={KEY}",
        every_byte_escaped(KEY),  # no name at all
        "limit=5",  # harmless, but an admin query is never shown
    ],
)
@pytest.mark.parametrize("path", ["/api/admin/background-jobs", "/admin/info"])
def test_admin_query_strings_are_hidden_in_the_access_log(path: str, query: str) -> None:
    line = access_line(f"{path}?{query}")
    assert line == f'127.0.0.1:50000 - "GET {path}?*** HTTP/1.1" 401'


def test_other_queries_are_kept_unless_they_hold_a_secret() -> None:
    assert "/stats?season=2025&tenant=default" in access_line("/stats?season=2025&tenant=default")
    hidden = access_line(f"/stats?season=2025&k={every_byte_escaped(KEY)}")
    assert "/stats?*** " in hidden and "%41" not in hidden


def test_a_secret_in_the_path_is_hidden_as_uvicorn_escapes_it() -> None:
    line = access_line("/api/admin/background-jobs/" + quote(KEY))
    assert quote(KEY) not in line and KEY not in line and "***" in line
