"""Smoke test of the queue benchmark (bench/queue.py): it runs and produces its tables.

No timings are asserted: speed is shown by the benchmark itself, never by tests.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from bench import queue as bench_queue

OTHER_SECTION = "## Stats functions\n\nWritten by bench/stats.py; must survive.\n"


def test_a_tiny_quick_run_prints_and_writes_every_table(
    server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BENCH_DATABASE_URL", server_url)
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\n" + OTHER_SECTION)
    table = bench_queue.main(
        [
            "--quick",
            "--runs=1",
            "--latency-jobs=5",
            "--throughput-jobs=200",
            "--processes=1",
            "--stats-jobs=1",
            f"--doc={doc}",
        ]
    )
    for heading in ("**Pickup latency**", "**Throughput**", "**Enqueue rate**", "**Stats job"):
        assert heading in table
    for row in (
        "| capo-worker |",
        "| Procrastinate |",
        "| 1-second poller (reference) |",
        "| capo-worker ÷ Procrastinate, same run |",
    ):
        assert row in table
    assert "cores" in table and "Procrastinate 3." in table
    text = doc.read_text()
    assert table in text
    assert text.startswith("# Benchmarks\n\n" + OTHER_SECTION)
    assert text.count("## Job queue") == 1


def test_writing_again_replaces_only_the_results_between_the_markers(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    bench_queue.write_section(doc, "first results\n")
    assert doc.read_text().startswith("## Job queue\n")
    # Someone adds notes to the section and another section after it.
    text = doc.read_text().replace("## Job queue\n", "## Job queue\n\nOur notes.\n")
    doc.write_text(text + "\n" + OTHER_SECTION)
    bench_queue.write_section(doc, "second results\n")
    text = doc.read_text()
    assert "first results" not in text
    assert "second results" in text
    assert "Our notes." in text
    assert text.endswith(OTHER_SECTION)
    assert text.count(bench_queue.BEGIN_MARK) == 1


def test_a_job_queue_section_without_results_gets_them_at_its_end(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text("## Job queue\n\nNotes first.\n\n" + OTHER_SECTION)
    bench_queue.write_section(doc, "results\n")
    text = doc.read_text()
    assert text.index("Notes first.") < text.index("results") < text.index("## Stats functions")
    assert text.endswith(OTHER_SECTION)


def test_percentiles_and_spreads() -> None:
    values = [float(v) for v in range(1, 101)]
    assert bench_queue.percentile(values, 50) == 50
    assert bench_queue.percentile(values, 99) == 99
    assert bench_queue.percentile(values, 100) == 100
    assert bench_queue.Spread.of([3.0, 1.0, 2.0]).fmt() == "2 (1–3)"
    assert bench_queue.Spread.of([2.5]).fmt(1) == "2.5"
