"""The ten stats functions: database name, cache tags, and what each one reads.

`depends_on` holds the functions whose output tables a function reads
(spec 10-inputs §7.2): the hall of fame reads the all-time stats, and the
match report reads the records and the personal bests. Everything else reads
only the input tables, so the runner may run it at any time.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class StatsFunction:
    name: str  # the PostgreSQL function, callable as name() or name(tenant uuid)
    cache_tags: tuple[str, ...]
    depends_on: tuple[str, ...] = field(default=())
    label: str = ""  # the reference worker's positional label, stats_function_N


STATS_FUNCTIONS: tuple[StatsFunction, ...] = (
    StatsFunction(
        "update_half_and_full_season_stats",
        ("season_stats", "half_season_stats"),
        label="stats_function_0",
    ),
    StatsFunction(
        "update_aggregated_all_time_stats", ("all_time_stats",), label="stats_function_1"
    ),
    StatsFunction(
        "update_aggregated_hall_of_fame",
        ("hall_of_fame",),
        depends_on=("update_aggregated_all_time_stats",),
        label="stats_function_2",
    ),
    StatsFunction(
        "update_aggregated_recent_performance", ("recent_performance",), label="stats_function_3"
    ),
    StatsFunction(
        "update_aggregated_season_honours_and_records", ("honour_roll",), label="stats_function_4"
    ),
    StatsFunction(
        "update_aggregated_match_report_cache",
        ("match_report",),
        depends_on=(
            "update_aggregated_season_honours_and_records",
            "update_aggregated_personal_bests",
        ),
        label="stats_function_5",
    ),
    StatsFunction(
        "update_aggregated_personal_bests", ("personal_bests",), label="stats_function_6"
    ),
    StatsFunction(
        "update_aggregated_player_profile_stats",
        ("player_profile_stats",),
        label="stats_function_7",
    ),
    StatsFunction(
        "update_aggregated_season_race_data", ("season_race_data",), label="stats_function_8"
    ),
    StatsFunction("update_power_ratings", ("player_power_rating",), label="stats_function_9"),
)

ALL_CACHE_TAGS: tuple[str, ...] = tuple(t for f in STATS_FUNCTIONS for t in f.cache_tags)


def by_name(functions: tuple[StatsFunction, ...] = STATS_FUNCTIONS) -> dict[str, StatsFunction]:
    return {f.name: f for f in functions}


def topological_order(functions: tuple[StatsFunction, ...]) -> list[StatsFunction]:
    """The functions in an order that respects depends_on, list order otherwise."""
    names = {f.name for f in functions}
    done: set[str] = set()
    ordered: list[StatsFunction] = []
    remaining = list(functions)
    while remaining:
        ready = [f for f in remaining if all(d in done or d not in names for d in f.depends_on)]
        if not ready:
            cycle = ", ".join(f.name for f in remaining)
            raise ValueError(f"dependency cycle among stats functions: {cycle}")
        for f in ready:
            ordered.append(f)
            done.add(f.name)
        remaining = [f for f in remaining if f.name not in done]
    return ordered


def select(
    only: list[str] | None, functions: tuple[StatsFunction, ...] = STATS_FUNCTIONS
) -> tuple[StatsFunction, ...]:
    """The functions named in `only` (full names, or without the update_ prefix)."""
    if not only:
        return functions
    known = by_name(functions)
    chosen = []
    for name in only:
        candidates = [name, f"update_{name}", f"update_aggregated_{name}"]
        match = next((known[c] for c in candidates if c in known), None)
        if match is None:
            raise ValueError(f"unknown stats function {name!r}; known: {', '.join(sorted(known))}")
        chosen.append(match)
    return tuple(f for f in functions if f in chosen)
