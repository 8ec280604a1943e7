"""The queue benchmark's report: its section of docs/benchmarks.md, percentiles and spreads."""

from __future__ import annotations

from pathlib import Path

from bench import queue as bench_queue

OTHER_SECTION = "## Stats functions\n\nWritten by bench/stats.py; must survive.\n"


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
