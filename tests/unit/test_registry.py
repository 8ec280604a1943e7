"""The stats graph: the ten functions, their tags, and the order their reads impose."""

from __future__ import annotations

import graphlib

import pytest

from capo_worker.stats.registry import STATS_FUNCTIONS, StatsFunction, dependency_order
from capo_worker.stats.runner import StatsRunner


def test_registry_order_respects_the_reads_between_functions() -> None:
    order = [f.name for f in dependency_order(STATS_FUNCTIONS)]
    assert len(order) == 10
    assert order.index("update_aggregated_hall_of_fame") > order.index(
        "update_aggregated_all_time_stats"
    )
    report = order.index("update_aggregated_match_report_cache")
    assert report > order.index("update_aggregated_season_honours_and_records")
    assert report > order.index("update_aggregated_personal_bests")
    tags = [t for f in STATS_FUNCTIONS for t in f.cache_tags]
    assert len(tags) == 11 and len(set(tags)) == 11


def test_a_cycle_is_refused_when_the_runner_is_built() -> None:
    """Functions that read each other in a circle would wait for each other forever."""
    a = StatsFunction("t_a", ("a",), depends_on=("t_b",))
    b = StatsFunction("t_b", ("b",), depends_on=("t_a",))
    with pytest.raises(graphlib.CycleError):
        StatsRunner(None, functions=(a, b))  # type: ignore[arg-type]  # no pool needed to refuse
    assert [f.name for f in dependency_order((b, StatsFunction("t_c", ("c",))))] == ["t_b", "t_c"]
