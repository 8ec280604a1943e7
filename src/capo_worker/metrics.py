"""Prometheus metrics observed in this process (the worker's jobs and functions).

Gauges read from the database at scrape time (jobs by status, queue depth,
oldest queued job) are collected by the web app's /metrics route.
"""

from __future__ import annotations

import functools

from prometheus_client import Counter, Histogram

_DURATION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)

JOB_DURATION = Histogram(
    "capo_job_duration_seconds",
    "Time from claim to outcome of jobs processed by this process.",
    ["job_type", "outcome"],
    buckets=_DURATION_BUCKETS,
)
STATS_FUNCTION_DURATION = Histogram(
    "capo_stats_function_duration_seconds",
    "Duration of each stats function run by this process.",
    ["function", "status"],
    buckets=_DURATION_BUCKETS,
)
CACHE_INVALIDATION_FAILURES = Counter(
    "capo_cache_invalidation_failures_total",
    "Cache invalidation requests that failed after all their attempts.",
)


@functools.cache
def job_duration(job_type: str, outcome: str) -> Histogram:
    """JOB_DURATION of one job type and outcome; looked up once (`labels` takes a lock)."""
    return JOB_DURATION.labels(job_type, outcome)
