"""The season race drawn as an SVG line chart, on the server.

Input: the `player_data` of aggregated_season_race_data, a list of
`{player_id, name, cumulative_data: [{date, points}, ...]}`. Output: an <svg>
with a grid, month ticks, one line per player, a dot with a tooltip (name, date,
points) on every match day, and a legend, styled by classes in style.css. Each
player keeps one colour on both charts of a page, and no two players of a chart
share one (render_race_charts).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH, HEIGHT = 720, 320
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 12, 28
COLOURS = 10  # series-0 .. series-9 in style.css


@dataclass(frozen=True)
class Series:
    key: str  # the player id (the name when the data has none)
    name: str
    points: list[tuple[dt.date, float]]

    @property
    def final(self) -> float:
        return self.points[-1][1] if self.points else 0.0


@dataclass(frozen=True)
class RaceChart:
    svg: Markup
    legend: list[tuple[str, int, str]]  # name, final points, colour class
    empty: bool


def _series(player_data: object) -> list[Series]:
    out = []
    for player in player_data if isinstance(player_data, list) else []:
        if not isinstance(player, dict):
            continue
        points = []
        for point in player.get("cumulative_data") or []:
            try:
                day = dt.date.fromisoformat(str(point["date"]))
                value = float(point["points"])
            except (KeyError, TypeError, ValueError):
                continue
            points.append((day, value))
        if points:
            points.sort(key=lambda p: p[0])  # stable: same-day points keep their order
            name = str(player.get("name", "?"))
            out.append(Series(str(player.get("player_id", name)), name, points))
    # Leader first, so colours follow the standings.
    return sorted(out, key=lambda s: (-s.final, s.name))


def nice_step(span: float, target_ticks: int = 5) -> float:
    """A round tick step (1, 2 or 5 times a power of ten) giving about `target_ticks` ticks."""
    if span <= 0:
        return 1.0
    raw = span / target_ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * magnitude:
            return float(factor * magnitude)
    return float(10 * magnitude)


def _month_ticks(first: dt.date, last: dt.date) -> list[dt.date]:
    ticks = []
    day = dt.date(first.year, first.month, 1)
    while day <= last:
        if day >= first:
            ticks.append(day)
        day = dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return ticks


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def assign_colours(*charts: object) -> dict[str, str]:
    """Player key -> colour class: leaders first, a new colour for each new player."""
    colours: dict[str, str] = {}
    for player_data in charts:
        for s in _series(player_data):
            if s.key not in colours:
                colours[s.key] = f"series-{len(colours) % COLOURS}"
    return colours


def render_race_charts(
    race: Mapping[str, object], year: int | None, half_label: str
) -> list[tuple[str, str, RaceChart]]:
    """The whole-season and half-season charts, one colour per player across both."""
    periods = {"whole_season": "Whole season", "current_half": half_label}
    colours = assign_colours(*(race.get(p, []) for p in periods))
    return [
        (
            period,
            label,
            render_race_chart(
                race.get(period, []),
                title=f"Season race {year}, {label.lower()}",
                chart_id=f"race-{period}",
                colours=colours,
            ),
        )
        for period, label in periods.items()
    ]


def render_race_chart(
    player_data: object,
    *,
    title: str,
    chart_id: str,
    colours: dict[str, str] | None = None,
) -> RaceChart:
    series = _series(player_data)
    colours = colours or assign_colours(player_data)
    if not series:
        return RaceChart(Markup(""), [], True)
    days = [d for s in series for d, _ in s.points]
    values = [v for s in series for _, v in s.points]
    first, last = min(days), max(days)
    if last == first:
        last = first + dt.timedelta(days=1)
    lowest, highest = min(0.0, *values), max(0.0, *values)
    step = nice_step(highest - lowest)
    low = math.floor(lowest / step) * step
    high = math.ceil(highest / step) * step
    if high == low:
        high = low + step
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    span_days = (last - first).days

    def x(day: dt.date) -> float:
        return LEFT + plot_w * (day - first).days / span_days

    def y(value: float) -> float:
        return TOP + plot_h * (high - value) / (high - low)

    parts: list[str] = []
    for index in range(round((high - low) / step) + 1):
        tick = low + index * step
        cls = "zero" if abs(tick) < step / 1000 else "grid"
        parts.append(
            f'<line class="{cls}" x1="{LEFT}" x2="{WIDTH - RIGHT}" '
            f'y1="{y(tick):.1f}" y2="{y(tick):.1f}"/>'
            f'<text class="axis-label" x="{LEFT - 6}" y="{y(tick) + 4:.1f}" '
            f'text-anchor="end">{_fmt(tick)}</text>'
        )
    months = _month_ticks(first, last)
    label_every = max(1, math.ceil(len(months) / 8))
    for index, month in enumerate(months):
        parts.append(
            f'<line class="grid" x1="{x(month):.1f}" x2="{x(month):.1f}" '
            f'y1="{TOP}" y2="{HEIGHT - BOTTOM}"/>'
        )
        if index % label_every == 0:
            parts.append(
                f'<text class="axis-label" x="{x(month):.1f}" y="{HEIGHT - 8}" '
                f'text-anchor="middle">{month.strftime("%b")}</text>'
            )
    legend = []
    for s in series:
        colour = colours.get(s.key, "series-0")
        coords = " ".join(f"{x(d):.1f},{y(v):.1f}" for d, v in s.points)
        name = escape(s.name)
        end_day, end_value = s.points[-1]
        dots = "".join(
            f'<circle class="point {colour}" cx="{x(d):.1f}" cy="{y(v):.1f}" r="3">'
            f"<title>{name}, {d:%d %b}: {_fmt(v)} points</title></circle>"
            for d, v in s.points
        )
        parts.append(
            f'<g class="player" data-player="{name}">'
            f'<polyline class="series {colour}" points="{coords}">'
            f"<title>{name}: {_fmt(s.final)} points</title></polyline>"
            f"{dots}"
            f'<circle class="end {colour}" cx="{x(end_day):.1f}" cy="{y(end_value):.1f}" r="4">'
            f"<title>{name}, {end_day:%d %b}: {_fmt(end_value)} points</title></circle>"
            "</g>"
        )
        legend.append((s.name, round(s.final), colour))
    names = ", ".join(f"{n} {p}" for n, p, _ in legend)
    svg = (
        f'<svg class="race-chart" id="{escape(chart_id)}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-labelledby="{escape(chart_id)}-title" '
        f'xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{escape(chart_id)}-title">{escape(title)}: {escape(names)}</title>'
        + "".join(parts)
        + "</svg>"
    )
    return RaceChart(Markup(svg), legend, False)
