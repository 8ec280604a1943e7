"""Smoke test of the many-clubs benchmark (bench/tenants.py): it runs and produces its tables.

No timings are asserted: speed is shown by the benchmark itself, never by tests.
"""

from __future__ import annotations

from pathlib import Path

import pytest

# The benchmark starts its workers with bench/queue.py's helpers, which need the
# `bench` extra; the test suite alone (`.[test]`) skips it.
pytest.importorskip("procrastinate", reason="bench/queue.py imports Procrastinate")

from bench import tenants as bench_tenants

OTHER_SECTION = "## Stats functions\n\nWritten by bench/stats.py; must survive.\n"


def test_a_tiny_run_compares_clubs_runs_the_cron_and_writes_its_section(
    server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BENCH_DATABASE_URL", server_url)
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\n" + OTHER_SECTION)
    text = bench_tenants.main(
        ["--clubs=2", "--small-clubs=3", "--repeat=1", "--workers=1", f"--doc={doc}"]
    )
    assert "alone and among 2 clubs**" in text
    assert "alone and among 3 clubs**" in text
    assert "**Nightly cron, 3 small clubs**" in text
    # one row per stats function in each comparison, and the cron row: 3 jobs, none failed
    assert text.count("| update_power_ratings |") == 2
    assert "| 1 | 3 | 0 |" in text
    written = doc.read_text()
    assert OTHER_SECTION in written and bench_tenants.BEGIN in written
