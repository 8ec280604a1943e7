"""The migration files as shipped: versioned ones in order before the function files, one file
per function.
"""

from __future__ import annotations

from importlib import resources

from capo_worker.migrate import (
    all_migrations,
)
from capo_worker.stats.registry import STATS_FUNCTIONS


async def test_versioned_files_run_in_order_before_the_functions() -> None:
    names_ = [m.name for m in all_migrations()]
    versioned = [m.name for m in all_migrations() if m.kind == "versioned"]
    assert versioned == sorted(versioned) and names_[: len(versioned)] == versioned
    assert versioned[0].startswith("0001_")
    sql_files = {
        f.name
        for f in resources.files("capo_worker.stats.sql").iterdir()
        if f.name.endswith(".sql")
    }
    assert sql_files <= set(names_)


def test_each_function_is_defined_by_one_file() -> None:
    owners: dict[str, str] = {}
    for m in all_migrations():
        if m.kind != "repeatable":
            continue
        for fn in m.function_names:
            assert fn not in owners, f"{fn} is defined by {owners[fn]} and {m.name}"
            owners[fn] = m.name
    for function in STATS_FUNCTIONS:
        assert owners[function.name] == f"{function.name}.sql"
