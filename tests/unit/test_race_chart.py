"""The season race chart: lines, order, escaping, round axis ticks."""

from __future__ import annotations

import re

import pytest

from capo_worker.web.race_chart import nice_step, render_race_chart, render_race_charts


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


def test_each_player_keeps_one_colour_on_both_charts() -> None:
    def player(pid: int, name: str, final: int) -> dict[str, object]:
        data = series(name, ("2026-07-01", 0), ("2026-08-01", final))
        return {**data, "player_id": pid}

    whole = [player(1, "Ann", 90), player(2, "Bob", 80), player(3, "Cy", 70)]
    half = [player(3, "Cy", 50), player(4, "Dee", 40), player(1, "Ann", 30)]
    charts = render_race_charts({"whole_season": whole, "current_half": half}, 2026, "Half")
    colours = [{name: colour for name, _, colour in chart.legend} for _, _, chart in charts]
    assert colours[0] == {"Ann": "series-0", "Bob": "series-1", "Cy": "series-2"}
    assert colours[1] == {"Cy": "series-2", "Dee": "series-3", "Ann": "series-0"}
    half_svg = charts[1][2].svg
    # A dot per point, each with its own tooltip.
    assert half_svg.count('<circle class="point') == 6
    assert "<title>Dee, 01 Aug: 40 points</title>" in half_svg
