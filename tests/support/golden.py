"""Compare a database's aggregated tables with golden outputs of the reference.

Values are compared as PostgreSQL prints them: numerics, dates and timestamps
as text (so `8.20` differs from `8.2`), JSON parsed with numbers kept as their
text. Only row order is forgiven, plus, when asked, the order of the JSON
arrays the reference itself leaves unspecified.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql


class Num(str):
    """A JSON number kept as its text, so `13.50` and `13.5` stay different."""

    __slots__ = ()

    def __repr__(self) -> str:
        return str(self)


def _sort_key_num(value: Any) -> Any:
    return Decimal(value) if isinstance(value, Num) else value


def parse_json(text: str) -> Any:
    return json.loads(text, parse_float=Num, parse_int=int)


# Arrays whose element order the reference leaves unspecified (fixtures README).
UNORDERED_ARRAYS: dict[str, set[str]] = {
    "aggregated_match_report": {"streaks", "goal_streaks", "game_milestones", "goal_milestones"},
}
# Arrays ordered by a sort key where equal keys may come in any order:
# table -> column -> function giving the sort key of an element.
PARTIALLY_ORDERED: dict[str, dict[str, Any]] = {
    "aggregated_match_report": {
        "feat_breaking_data": lambda e: (
            e.get("status") != "broken",
            _sort_key_num(e.get("new_value")),
            e.get("player_name"),
        ),
    },
    "aggregated_player_profile_stats": {
        "teammate_chemistry_all": lambda e: -_sort_key_num(e.get("average_fantasy_points_with")),
    },
}


@dataclass
class Golden:
    table: str
    columns: list[str]
    types: dict[str, str]
    key: list[str]
    rows: list[dict[str, Any]]
    as_of: str

    @classmethod
    def load(cls, path: Path) -> Golden:
        data = json.loads(path.read_text(), parse_float=Num, parse_int=int)
        return cls(
            data["table"], data["columns"], data["types"], data["key"], data["rows"], data["as_of"]
        )


def golden_tables(folder: Path) -> list[Golden]:
    return [Golden.load(p) for p in sorted(folder.glob("*.json")) if p.name != "MANIFEST.json"]


def _select_expr(column: str, pg_type: str) -> sql.Composable:
    ident = sql.Identifier(column)
    if pg_type in ("integer", "smallint", "bigint", "boolean"):
        return ident
    return sql.SQL("{}::text").format(ident)


def fetch_rows(
    conn: psycopg.Connection[Any], golden: Golden, tenant_id: str | None = None
) -> list[dict[str, Any]]:
    query = sql.SQL("SELECT {} FROM {}").format(
        sql.SQL(", ").join(_select_expr(c, golden.types[c]) for c in golden.columns),
        sql.Identifier(golden.table),
    )
    params: tuple[Any, ...] = ()
    if tenant_id is not None:
        query = sql.SQL("{} WHERE tenant_id = %s").format(query)
        params = (tenant_id,)
    rows = []
    for values in conn.execute(query, params).fetchall():
        row = {}
        for column, value in zip(golden.columns, values, strict=True):
            if value is not None and golden.types[column] in ("json", "jsonb"):
                value = parse_json(value)
            row[column] = value
        rows.append(row)
    return rows


def _normalise(table: str, column: str, value: Any, relaxed: bool) -> Any:
    if not relaxed or not isinstance(value, list):
        return value
    if column in UNORDERED_ARRAYS.get(table, set()):
        return sorted(value, key=lambda e: json.dumps(e, sort_keys=True))
    key = PARTIALLY_ORDERED.get(table, {}).get(column)
    if key is not None:
        # Keep the order of distinct sort keys; sort elements within equal keys.
        return sorted(value, key=lambda e: (key(e), json.dumps(e, sort_keys=True)))
    return value


def _row_key(golden: Golden, row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[k] for k in golden.key)


@dataclass
class TableDiff:
    table: str
    golden_count: int
    db_count: int
    differences: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences


def _first_json_difference(path: str, a: Any, b: Any) -> str | None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return f"{path}.{k}: golden {a.get(k, '<absent>')} != db {b.get(k, '<absent>')}"
            found = _first_json_difference(f"{path}.{k}", a[k], b[k])
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            found = _first_json_difference(f"{path}[{i}]", x, y)
            if found:
                return found
        if len(a) != len(b):
            return f"{path}: golden has {len(a)} elements, db {len(b)}"
        return None
    if type(a) is not type(b) or a != b:
        return f"{path}: golden {a!r} != db {b!r}"
    return None


def compare_table(
    golden: Golden, db_rows: list[dict[str, Any]], *, relaxed: bool = True, max_diffs: int = 5
) -> TableDiff:
    diff = TableDiff(golden.table, len(golden.rows), len(db_rows))

    def norm(row: dict[str, Any]) -> dict[str, Any]:
        return {c: _normalise(golden.table, c, row[c], relaxed) for c in golden.columns}

    expected = [norm(r) for r in golden.rows]
    actual = [norm(r) for r in db_rows]
    if not golden.key:
        # Keyless tables (aggregated_records): compare as multisets of rows.
        exp = Counter(json.dumps(r, sort_keys=True) for r in expected)
        act = Counter(json.dumps(r, sort_keys=True) for r in actual)
        if exp != act:
            for e, a in zip(expected, actual, strict=False):
                for c in golden.columns:
                    found = _first_json_difference(c, e[c], a[c])
                    if found:
                        diff.differences.append(f"row: {found}")
                        break
            if len(expected) != len(actual):
                diff.differences.append(f"golden {len(expected)} rows != db {len(actual)} rows")
            if not diff.differences:
                diff.differences.append("rows differ")
        return diff

    by_key_db = {}
    for row in actual:
        k = _row_key(golden, row)
        if k in by_key_db:
            diff.differences.append(f"key {list(k)}: duplicated in db")
        by_key_db[k] = row
    for row in sorted(expected, key=lambda r: json.dumps(_row_key(golden, r), default=str)):
        k = _row_key(golden, row)
        got = by_key_db.pop(k, None)
        if got is None:
            diff.differences.append(f"key {list(k)}: missing in db")
            continue
        for c in golden.columns:
            found = _first_json_difference(c, row[c], got[c])
            if found:
                diff.differences.append(f"key {list(k)}: {found}")
                break
    for k in by_key_db:
        diff.differences.append(f"key {list(k)}: unexpected in db")
    diff.differences = diff.differences[: max_diffs + 1] if max_diffs else diff.differences
    return diff


def compare_folder(
    conn: psycopg.Connection[Any],
    folder: Path,
    *,
    tenant_id: str | None = None,
    tables: list[str] | None = None,
    relaxed: bool = True,
) -> list[TableDiff]:
    results = []
    for golden in golden_tables(folder):
        if tables and golden.table not in tables:
            continue
        results.append(compare_table(golden, fetch_rows(conn, golden, tenant_id), relaxed=relaxed))
    return results


def report(diffs: list[TableDiff]) -> str:
    lines = []
    for d in diffs:
        status = "OK" if d.ok else "FAIL"
        lines.append(f"{status} {d.table} (golden {d.golden_count} rows, db {d.db_count})")
        lines.extend(f"    {x}" for x in d.differences)
    return "\n".join(lines)
