"""The goal page's progress chart as server-side SVG (pure: no ORM, no I/O).

Three things on one time axis over the goal's period: the **cumulative actual** (a
line through each day read so far), the **target line** (straight from 0 on the first
day to the target on the last), and a **forecast band** from the run rate: the mean
daily amount ± one standard deviation (``statistics``), projected from the last actual
to the end of the period. Under ``MIN_FORECAST_DAYS`` days of readings a band would be
noise dressed as a forecast, so the chart says "not enough data" instead.

Why SVG on the server: no JavaScript library to vendor or load, the page works without
scripts, and every text in it goes through ``html.escape`` so a goal's words cannot
inject markup.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

__all__ = ["MIN_FORECAST_DAYS", "Forecast", "ProgressChart", "forecast_band", "progress_chart"]

#: Days of readings a forecast needs (the issue: "not enough data" under 7 days).
MIN_FORECAST_DAYS = 7

WIDTH, HEIGHT, PAD = 640, 240, 40


@dataclass(frozen=True)
class Forecast:
    """Where the run rate ends the period: low / mid / high cumulative totals."""

    low: int
    mid: int
    high: int


@dataclass(frozen=True)
class ProgressChart:
    svg: str
    achieved: int
    forecast: Forecast | None
    note: str


def forecast_band(*, daily: Sequence[int], achieved: int, days_left: int) -> Forecast | None:
    """The projected total at the period's end, or None under ``MIN_FORECAST_DAYS``.

    ``daily`` are the per-day amounts read so far; ``days_left`` the days after the last
    reading. Low never projects below what is already achieved (sales are not undone
    by a forecast).
    """
    if len(daily) < MIN_FORECAST_DAYS:
        return None
    rate = statistics.fmean(daily)
    spread = statistics.stdev(daily)
    left = max(days_left, 0)
    return Forecast(
        low=max(achieved, round(achieved + (rate - spread) * left)),
        mid=round(achieved + rate * left),
        high=round(achieved + (rate + spread) * left),
    )


def progress_chart(
    *,
    start: dt.date,
    end: dt.date,
    target: int,
    daily: Sequence[tuple[dt.date, int]],
    label: str,
) -> ProgressChart:
    """The chart for a period ``start``..``end`` (inclusive) and readings ``daily``
    (one amount per day, in the goal's unit; days outside the period are ignored).

    ``label`` is shown as the chart's title (escaped).
    """
    if end < start:
        raise ValueError(f"the period ends ({end}) before it starts ({start})")
    if target <= 0:
        raise ValueError(f"the target must be positive, got {target}")
    readings = sorted((day, value) for day, value in daily if start <= day <= end)
    points: list[tuple[dt.date, int]] = []
    total = 0
    for day, value in readings:
        total += value
        points.append((day, total))
    days_total = (end - start).days + 1
    last_day = readings[-1][0] if readings else start
    forecast = forecast_band(
        daily=[value for _, value in readings],
        achieved=total,
        days_left=(end - last_day).days,
    )
    top = max(target, total, forecast.high if forecast else 0) * 1.1

    def x(day: dt.date) -> float:
        # Day i is drawn at the end of that day: the first reading sits one step in.
        return PAD + (WIDTH - 2 * PAD) * ((day - start).days + 1) / days_total

    def y(value: float) -> float:
        return HEIGHT - PAD - (HEIGHT - 2 * PAD) * value / top

    x0, y0 = PAD, HEIGHT - PAD
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="goal-chart" viewBox="0 0 {WIDTH} '
        f'{HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{escape(label)}">',
        f"<title>{escape(label)}</title>",
        f'<line class="axis" x1="{x0}" y1="{y0}" x2="{WIDTH - PAD}" y2="{y0}" stroke="#888"/>',
        f'<line class="target" x1="{x0}" y1="{y0}" x2="{x(end):.1f}" y2="{y(target):.1f}" '
        f'stroke="#c33" stroke-dasharray="6 4"/>',
        f'<text x="{x0}" y="{HEIGHT - 10}" font-size="11">{escape(start.isoformat())}</text>',
        f'<text x="{WIDTH - PAD - 70}" y="{HEIGHT - 10}" font-size="11">'
        f"{escape(end.isoformat())}</text>",
        f'<text x="{x0}" y="{PAD - 10}" font-size="11">target {target:,}</text>',
    ]
    if forecast is not None:
        lx, ly = x(last_day), y(total)
        parts.append(
            f'<polygon class="forecast" points="{lx:.1f},{ly:.1f} {x(end):.1f},'
            f'{y(forecast.high):.1f} {x(end):.1f},{y(forecast.low):.1f}" '
            f'fill="#39c" fill-opacity="0.2"/>'
        )
        note = (
            f"forecast at the run rate: {forecast.mid:,} "
            f"(between {forecast.low:,} and {forecast.high:,})"
        )
    else:
        note = f"not enough data for a forecast ({len(readings)} of {MIN_FORECAST_DAYS} days)"
    if points:
        # From zero at the period's start, then each day's cumulative total.
        line = " ".join([f"{x0},{y0}", *(f"{x(day):.1f},{y(value):.1f}" for day, value in points)])
        parts.append(
            f'<polyline class="actual" points="{line}" fill="none" stroke="#393" stroke-width="2"/>'
        )
    parts.append(f'<text x="{x0}" y="{PAD - 24}" font-size="11">{escape(note)}</text>')
    parts.append("</svg>")
    return ProgressChart(svg="".join(parts), achieved=total, forecast=forecast, note=note)
