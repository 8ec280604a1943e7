"""Prometheus gauges read from the job table at scrape time.

The histograms and counters of this process live in `capo_worker.metrics`;
these gauges describe the shared queue, so every scrape asks the database.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import REGISTRY, Collector

from capo_worker import queue
from capo_worker.job_row import STATUSES


@dataclass(frozen=True)
class QueueSnapshot:
    queue_name: str
    stats: queue.QueueStats | None  # None: the database could not be read
    heartbeat_age_seconds: float | None


async def read_snapshot(conn: queue.Conn, queue_name: str) -> QueueSnapshot:
    stats = await queue.queue_stats(conn, queue_name=queue_name)
    return QueueSnapshot(queue_name, stats, await queue.last_worker_heartbeat_age(conn))


class QueueGauges(Collector):
    def __init__(self, snapshot: QueueSnapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot
        up = GaugeMetricFamily(
            "capo_database_up", "1 when the job table could be read for this scrape."
        )
        up.add_metric([], 1.0 if snap.stats is not None else 0.0)
        yield up
        if snap.stats is None:
            return
        labels = [snap.queue_name]
        jobs = GaugeMetricFamily(
            "capo_jobs", "Jobs in the job table by status.", labels=["queue", "status"]
        )
        for status in STATUSES:
            jobs.add_metric([*labels, status], float(snap.stats.counts.get(status, 0)))
        yield jobs
        depth = GaugeMetricFamily(
            "capo_queue_depth", "Queued jobs that are due now.", labels=["queue"]
        )
        depth.add_metric(labels, float(snap.stats.ready))
        yield depth
        oldest = GaugeMetricFamily(
            "capo_queue_oldest_queued_age_seconds",
            "Age of the oldest queued job that is due (0 when none is due).",
            labels=["queue"],
        )
        oldest.add_metric(labels, snap.stats.oldest_queued_age_seconds or 0.0)
        yield oldest
        if snap.heartbeat_age_seconds is not None:
            heartbeat = GaugeMetricFamily(
                "capo_worker_last_heartbeat_age_seconds",
                "Seconds since any running worker last reported.",
            )
            heartbeat.add_metric([], snap.heartbeat_age_seconds)
            yield heartbeat


def exposition(snapshot: QueueSnapshot) -> bytes:
    """This process's metrics followed by the queue gauges, in the text format."""
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(QueueGauges(snapshot))
    return generate_latest(REGISTRY) + generate_latest(scrape)
