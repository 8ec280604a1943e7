"""docs/schema.sql and the schema version stay true to the migrations and function files."""

from __future__ import annotations

import difflib

from capo_worker.migrate import all_migrations, files_checksum
from capo_worker.schema_version import SCHEMA_CHECKSUM
from tests.support import schema_dump

STALE = (
    f"The migrations or SQL function files changed: run `{schema_dump.REGENERATE}` and commit "
    "docs/schema.sql and src/capo_worker/schema_version.py (docs/operations.md, "
    '"Schema versions").'
)


def diff_excerpt(expected: str, actual: str, limit: int = 40) -> str:
    lines = difflib.unified_diff(
        expected.splitlines(), actual.splitlines(), "docs/schema.sql", "fresh migrate", lineterm=""
    )
    return "\n".join(list(lines)[:limit])


def test_the_schema_version_covers_the_current_schema_files() -> None:
    assert files_checksum(all_migrations()) == SCHEMA_CHECKSUM, STALE


def test_a_fresh_migrate_gives_schema_sql(db_url: str) -> None:
    # db_url is a clone of a database migrated from scratch.
    actual = schema_dump.normalise(schema_dump.dump(db_url))
    expected = schema_dump.checked_in_schema()
    assert actual == expected, f"{STALE}\n{diff_excerpt(expected, actual)}"
