"""The results JSON: one schema for its writers, and readers that tolerate old and odd rows.

Rows come from three sources: the Node worker (positional names, no cache
outcome), capo-worker builds old and new, and hand edits. The admin page,
`jobs show` and the retry that reuses stats read them all through
JobResults.read, which names what it cannot read instead of failing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from capo_worker.job_row import Job
from capo_worker.results import CacheOutcome, FunctionResult, JobResults, with_attempt
from capo_worker.web.job_view import job_view, unreadable_parts

NODE_ROW = {  # spec 50 (d), as the Node worker stored it
    "total_functions": 10,
    "successful_functions": 9,
    "failed_functions": 1,
    "cache_invalidation_success": True,
    "function_results": [
        {"function": "stats_function_0", "status": "success", "duration": 812},
        {
            "function": "stats_function_5",
            "status": "failed",
            "duration": 95,
            "error": "Database function error: Error in update_aggregated_match_report_cache",
        },
    ],
}


def a_job(results: Any, **columns: Any) -> Job:
    now = dt.datetime(2026, 11, 28, 21, 0, tzinfo=dt.UTC)
    row: dict[str, Any] = {
        "id": "00000000-0000-0000-0000-00000000000a",
        "job_type": "stats_update",
        "job_payload": {"triggeredBy": "admin", "requestId": "r"},
        "status": "completed",
        "priority": 1,
        "tenant_id": None,
        "queue_name": "stats-update-queue",
        "attempts": 1,
        "max_attempts": 3,
        "retry_count": 0,
        "created_at": now,
        "started_at": now,
        "completed_at": now + dt.timedelta(seconds=2),
        "updated_at": now,
        "run_after": now,
        "locked_by": None,
        "lease_expires_at": None,
        "error_message": None,
        "results": results,
        "attempt_errors": [],
        **columns,
    }
    return Job.of_row(row)


def test_a_node_era_row_is_read_whole() -> None:
    read = JobResults.read(NODE_ROW)
    assert read.unreadable == [] and read.results is not None
    assert [f.function for f in read.results.function_results] == [
        "stats_function_0",
        "stats_function_5",
    ]
    assert read.results.function_results[1].error is not None
    view = job_view(a_job(NODE_ROW))
    assert [(f.name, f.status, f.duration_ms) for f in view.functions] == [
        ("stats_function_0", "success", 812),
        ("stats_function_5", "failed", 95),
    ]
    assert view.cache is not None and view.cache.state == "invalidated"
    assert view.unreadable == []


def test_what_a_writer_sets_is_what_is_stored() -> None:
    entry = FunctionResult(function="f", status="success", duration=3, cache_tags=["t"])
    results = JobResults(
        total_functions=1,
        function_results=[entry],
        cache_invalidation=CacheOutcome.skipped_because("no URL"),
        cache_invalidation_success=None,
    )
    assert results.to_json() == {
        "total_functions": 1,
        "function_results": [
            {"function": "f", "status": "success", "duration": 3, "cache_tags": ["t"]}
        ],
        "cache_invalidation": {"skipped": True, "reason": "no URL"},
        "cache_invalidation_success": None,  # set, so stored: invalidation was skipped
    }
    stamped = with_attempt(results.to_json(), worker_id="w-1", attempt=2, duration_ms=40)
    assert JobResults.read(stamped).results == JobResults.model_validate(stamped)
    assert (stamped["worker_id"], stamped["attempt"], stamped["duration_ms"]) == ("w-1", 2, 40)


def test_keys_of_other_builds_are_kept_on_a_round_trip() -> None:
    row = {**NODE_ROW, "stats_scope": "changes", "something_newer": {"a": 1}}
    read = JobResults.read(row)
    assert read.results is not None and read.results.to_json() == row


def test_odd_parts_are_named_and_the_rest_is_read() -> None:
    odd = {
        "function_results": [{"function": "f", "status": "success"}, 7],
        "cache_invalidation": {"success": False, "attempts": 3, "error": "boom"},
        "worker_id": "w-9",
    }
    read = JobResults.read(odd)
    assert read.unreadable == ["results.cache_invalidation.attempts", "results.function_results"]
    assert read.results is not None
    assert [f.function for f in read.results.function_results] == ["f"]
    assert read.results.cache_invalidation is not None
    assert read.results.cache_invalidation.error == "boom"
    view = job_view(a_job(odd))
    assert view.worker == "w-9" and view.cache is not None and view.cache.state == "failed"
    assert view.unreadable == read.unreadable


def test_rows_that_are_not_results_objects() -> None:
    assert JobResults.read(None).unreadable == [] and JobResults.read(None).results is None
    assert JobResults.read([1, 2]).unreadable == ["results"]
    job = a_job([1, 2], attempt_errors={"attempt": 1}, job_payload="text")
    assert unreadable_parts(job) == ["job_payload", "attempt_errors", "results"]
    assert job_view(job).functions == [] and job_view(job).cache is None


def test_scopes_are_shown_and_rows_without_them_read_as_unknown() -> None:
    scoped = {
        "stats_scope": "match 4838",
        "stats_scope_reason": "post-match job for one match",
        "function_results": [
            {
                "function": "update_aggregated_all_time_stats",
                "status": "success",
                "scope": "match 4838, 18 players",
                "scope_reason": "only the match's players' rows change (match new)",
            },
            {"function": "update_power_ratings", "status": "success", "scope": "full"},
            {"function": "update_aggregated_hall_of_fame", "status": "success", "scope": 7},
        ],
    }
    view = job_view(a_job(scoped))
    assert (view.scope, view.scope_reason) == ("match 4838", "post-match job for one match")
    assert [(f.scope, f.scope_reason) for f in view.functions] == [
        ("match 4838, 18 players", "only the match's players' rows change (match new)"),
        ("full", None),
        ("7", None),  # a hand edit of another type still reads, as text
    ]
    old = job_view(a_job(NODE_ROW))
    assert old.scope is None and {f.scope for f in old.functions} == {"-"}
