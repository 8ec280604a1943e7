"""The season race chart: lines, order, escaping, round axis ticks."""

from __future__ import annotations

import re

import pytest

from capo_worker.web.race_chart import nice_step, render_race_chart


def series(name: str, *points: tuple[str, int]) -> dict[str, object]:
    return {
        "name": name,
        "player_id": 1,
        "cumulative_data": [{"date": d, "points": p} for d, p in points],
    }


def test_chart_draws_one_line_per_player_leader_first() -> None:
    chart = render_race_chart(
        [
            series("Ann", ("2026-07-01", 0), ("2026-07-08", 30), ("2026-08-05", 20)),
            series("Bob", ("2026-07-01", 0), ("2026-07-08", -10), ("2026-09-02", 60)),
        ],
        title="Race",
        chart_id="race-x",
    )
    assert not chart.empty
    assert chart.svg.count("<polyline") == 2
    assert [name for name, _, _ in chart.legend] == ["Bob", "Ann"]  # 60 before 20
    assert chart.legend[0][1] == 60
    assert ">-10<" in chart.svg or ">-20<" in chart.svg  # the axis goes below zero
    assert 'class="zero"' in chart.svg
    assert ">Jul<" in chart.svg and ">Sep<" in chart.svg


def test_chart_escapes_names_and_handles_edge_cases() -> None:
    evil = render_race_chart(
        [series("<script>x</script>", ("2026-01-01", 0))], title="t", chart_id="c"
    )
    assert "<script>" not in evil.svg
    assert "&lt;script&gt;" in evil.svg
    assert render_race_chart([], title="t", chart_id="c").empty
    assert render_race_chart({"not": "a list"}, title="t", chart_id="c").empty
    broken = render_race_chart(
        [{"name": "A", "cumulative_data": [{"date": "nope", "points": 1}]}],
        title="t",
        chart_id="c",
    )
    assert broken.empty


@pytest.mark.parametrize(
    ("span", "step"), [(0, 1.0), (7, 2.0), (100, 20.0), (410, 100.0), (2, 0.5), (1234, 500.0)]
)
def test_nice_step(span: float, step: float) -> None:
    assert nice_step(span) == step


def test_chart_axis_ticks_are_round_and_cover_the_data() -> None:
    chart = render_race_chart(
        [series("A", ("2026-01-01", 0), ("2026-03-01", 410))], title="t", chart_id="c"
    )
    labels = [int(v) for v in re.findall(r'text-anchor="end">(-?\d+)<', chart.svg)]
    assert labels == [0, 100, 200, 300, 400, 500]
