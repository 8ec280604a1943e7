"""Smoke test of the queue benchmark (bench/queue.py): it runs and produces its tables.

No timings are asserted: speed is shown by the benchmark itself, never by tests.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from bench import queue as bench_queue

# The comparison needs the `bench` extra; the test suite alone (`.[test]`) skips it.
pytest.importorskip("procrastinate", reason="the queue benchmark compares with Procrastinate")
pytest.importorskip("pgqueuer", reason="the queue benchmark compares with PgQueuer")

OTHER_SECTION = "## Stats functions\n\nWritten by bench/stats.py; must survive.\n"


def test_a_tiny_quick_run_prints_and_writes_every_table(
    server_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
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
    for heading in (
        "**Pickup latency**",
        "**Throughput**",
        "**Worker CPU per job**",
        "**Enqueue rate**",
        "**Stats job",
    ):
        assert heading in table
    for row in (
        "| capo-worker |",
        "| Procrastinate |",
        "| PgQueuer |",
        "| PgQueuer (defaults) |",
        "| PgQueuer (tuned) |",
        "| 1-second poller (reference) |",
        "| capo-worker ÷ Procrastinate, same run |",
        "| capo-worker ÷ PgQueuer (tuned), same run |",
    ):
        assert row in table
    assert "cores" in table and "Procrastinate 3." in table and "PgQueuer 1.6" in table
    assert "capo-worker ÷ PgQueuer (tuned), same run: " in capsys.readouterr().out
    text = doc.read_text()
    assert table in text
    assert text.startswith("# Benchmarks\n\n" + OTHER_SECTION)
    assert text.count("## Job queue") == 1
