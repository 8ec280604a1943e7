"""Connection strings in logs and pages: the password never shows, whatever its form.

The DSN is parsed as libpq parses it (psycopg's conninfo functions), so a
password keeps its quotes, spaces, escapes, '#', '?' and '@' as libpq reads
them, and one given only through PGPASSWORD or a password file is hidden too.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict

from capo_worker.config import ConfigError, load_settings
from capo_worker.dsn import dsn_passwords, redact_dsn
from capo_worker.logs import RedactSecrets

# (connection string, the password as libpq reads it, pieces of it that must not show)
FORMS = [
    ("host=db user=u password='sesame 42' dbname=capo", "sesame 42", ["sesame", "42"]),
    (r"host=db password='it\'s \\ secret' dbname=capo", "it's \\ secret", ["it's", "secret"]),
    (r"host=db password=open\ sesame dbname=capo", "open sesame", ["open", "sesame"]),
    ("password = 'spaced out'  host=db", "spaced out", ["spaced", "out"]),
    ("postgresql://u:hash#tag@db:5432/capo", "hash#tag", ["hash", "tag"]),
    ("postgresql://u:what?ever@db/capo?sslmode=require", "what?ever", ["what", "ever"]),
    ("postgresql://u:pa%23ss%20word@db/capo", "pa#ss word", ["pa%23ss", "ss%20word", "pa#ss"]),
    ("postgresql://u@db/capo?password=query%26secret", "query&secret", ["query", "secret"]),
    ("postgresql://u:multi@h1:5432,h2:5433/capo", "multi", ["multi"]),
    ("postgres://u:sock3t@/capo?host=/run/postgresql", "sock3t", ["sock3t"]),
    ("postgresql://u:pw[v6]@[::1]:5432/capo", "pw[v6]", ["pw[v6]"]),
]


@pytest.mark.parametrize(("dsn", "password", "pieces"), FORMS)
def test_the_password_never_shows_in_any_form(dsn: str, password: str, pieces: list[str]) -> None:
    shown = redact_dsn(dsn)
    assert "***" in shown
    for piece in [password, *pieces]:
        assert piece not in shown, (dsn, shown)
    assert "db" in shown or "h1" in shown or "::1" in shown or "/run/postgresql" in shown
    assert password in dsn_passwords(dsn)


def test_a_url_keeps_its_shape_and_its_harmless_parts() -> None:
    assert (
        redact_dsn("postgresql://postgres:s3cret@/capo_fault?host=/tmp/pg")
        == "postgresql://postgres:***@/capo_fault?host=/tmp/pg"
    )
    assert redact_dsn("postgresql://u:pw@db:6543/capo?sslmode=require") == (
        "postgresql://u:***@db:6543/capo?sslmode=require"
    )
    keywords = redact_dsn("host=db port=5432 dbname=capo user=u password=pw")
    assert conninfo_to_dict(keywords) == {
        "host": "db",
        "port": "5432",
        "dbname": "capo",
        "user": "u",
        "password": "***",
    }


def test_an_unescaped_at_sign_hides_what_libpq_took_for_the_host() -> None:
    # libpq ends the user info at the first '@': the rest of the password becomes the host.
    dsn = "postgresql://u:sesame@42word@db.example.com/capo"
    shown = redact_dsn(dsn)
    assert "42word" not in shown and "sesame" not in shown, shown
    assert "42word@db.example.com" in dsn_passwords(dsn)  # hidden from logs too
    with pytest.raises(ConfigError, match="%40") as info:
        load_settings(env_file=None, database_url=dsn)
    assert "42word" not in str(info.value) and "sesame" not in str(info.value)


def test_a_string_libpq_cannot_parse_is_not_shown_at_all() -> None:
    for dsn in ("postgresql://u:pa ss word@db/capo", "host=db password='unterminated"):
        shown = redact_dsn(dsn)
        assert "pa ss" not in shown and "unterminated" not in shown, shown
        with pytest.raises(ConfigError) as info:
            load_settings(env_file=None, database_url=dsn)
        assert "pa ss" not in str(info.value) and "unterminated" not in str(info.value)


def test_pgpassword_is_a_secret_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGPASSWORD", "from-the-environment")
    settings = load_settings(env_file=None, database_url="host=db dbname=capo user=u")
    assert "from-the-environment" in settings.secret_values()


def test_the_password_file_entry_libpq_would_use_is_a_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    passfile = tmp_path / "pgpass"
    passfile.write_text(
        "# host:port:database:user:password\n"
        "other.example.com:5432:capo:u:not-this-one\n"
        "db.example.com:*:capo:u:with\\:colon\\\\and-backslash\n"
        "*:*:*:*:the-fallback\n"
    )
    passfile.chmod(0o600)
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(passfile))

    def plain(dsn: str) -> set[str]:
        return {p for p in dsn_passwords(dsn) if "%" not in p}  # not the URL-encoded forms

    assert plain("host=db.example.com dbname=capo user=u") == {"with:colon\\and-backslash"}
    assert plain("postgresql://u@elsewhere.example.com/capo") == {"the-fallback"}
    # A password in the DSN wins: libpq reads no file then.
    assert plain("host=db.example.com dbname=capo user=u password=given") == {"given"}
    # The file can also be named in the DSN itself.
    monkeypatch.delenv("PGPASSFILE")
    named = f"host=db.example.com dbname=capo user=u passfile={passfile}"
    assert plain(named) == {"with:colon\\and-backslash"}


def test_log_lines_lose_every_form_of_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PGPASSWORD", raising=False)
    settings = load_settings(
        env_file=None, database_url="postgresql://u:pa%23ss%20word@db/capo?sslmode=require"
    )
    scrub = RedactSecrets(settings.secret_values())
    for text in ("pa#ss word", "pa%23ss%20word", "pa%23ss+word"):
        record = logging.makeLogRecord({"msg": "connecting with %s", "args": (text,)})
        scrub.filter(record)
        assert record.getMessage() == "connecting with ***", text
