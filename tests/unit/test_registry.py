"""The stats graph: the ten functions, their tags, and the order their reads impose."""

from __future__ import annotations

from capo_worker.stats.registry import STATS_FUNCTIONS, dependency_order


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
