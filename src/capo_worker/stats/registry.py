"""The ten stats functions: database name, cache tags, and what each one reads.

`depends_on` holds the functions whose output tables a function reads
(spec 10-inputs §7.2): the hall of fame reads the all-time stats, and the
match report reads the records and the personal bests. Everything else reads
only the input tables, so the runner may run it at any time.
"""

from __future__ import annotations

import graphlib
from dataclasses import dataclass, field


@dataclass(frozen=True)
class StatsFunction:
    name: str  # the PostgreSQL function, callable as name() or name(tenant uuid)
    cache_tags: tuple[str, ...]
    depends_on: tuple[str, ...] = field(default=())


STATS_FUNCTIONS: tuple[StatsFunction, ...] = (
    StatsFunction(
        "update_half_and_full_season_stats",
        ("season_stats", "half_season_stats"),
    ),
    StatsFunction("update_aggregated_all_time_stats", ("all_time_stats",)),
    StatsFunction(
        "update_aggregated_hall_of_fame",
        ("hall_of_fame",),
        depends_on=("update_aggregated_all_time_stats",),
    ),
    StatsFunction("update_aggregated_recent_performance", ("recent_performance",)),
    StatsFunction("update_aggregated_season_honours_and_records", ("honour_roll",)),
    StatsFunction(
        "update_aggregated_match_report_cache",
        ("match_report",),
        depends_on=(
            "update_aggregated_season_honours_and_records",
            "update_aggregated_personal_bests",
        ),
    ),
    StatsFunction("update_aggregated_personal_bests", ("personal_bests",)),
    StatsFunction(
        "update_aggregated_player_profile_stats",
        ("player_profile_stats",),
    ),
    StatsFunction("update_aggregated_season_race_data", ("season_race_data",)),
    StatsFunction("update_power_ratings", ("player_power_rating",)),
)

ALL_CACHE_TAGS: tuple[str, ...] = tuple(t for f in STATS_FUNCTIONS for t in f.cache_tags)


def by_name(functions: tuple[StatsFunction, ...] = STATS_FUNCTIONS) -> dict[str, StatsFunction]:
    return {f.name: f for f in functions}


def dependency_order(functions: tuple[StatsFunction, ...]) -> list[StatsFunction]:
    """The functions so that each comes after those it reads (dependencies outside
    `functions` are taken as met); graphlib.CycleError if they read each other in a circle."""
    known = by_name(functions)
    graph = {f.name: [d for d in f.depends_on if d in known] for f in functions}
    return [known[name] for name in graphlib.TopologicalSorter(graph).static_order()]


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
