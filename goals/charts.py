"""The goal page's progress chart as server-side SVG (pure: no ORM, no I/O).

Three things on one time axis over the goal's period: the **cumulative actual** (a line
through each elapsed day), the **target line** (straight from 0 on the first day to the
target on the last), and the **forecast band** of ``goals.forecast.forecast_compute``
(the one forecast: the same figures the monitor and the reports use), drawn from the
last elapsed day to the period's end, with the projected total as a dotted line. Without
enough data (``Forecast.enough_data``) no band is drawn: a band from 3 points is noise.

``progress_chart_small`` draws the same lines as a thumbnail without axis texts (the home
page's Goals section, one per goal, linking to the goal page's chart).

Why SVG on the server: no JavaScript library to vendor or load, the page works without
scripts, and every text in it goes through ``html.escape`` so a goal's words cannot
inject markup. The figures under the chart (the text fallback) are the page's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from bizagent.svg import HEIGHT, PAD, WIDTH, svg_open
from goals.forecast import Forecast

__all__ = ["ProgressChart", "progress_chart", "progress_chart_small"]


@dataclass(frozen=True)
class ProgressChart:
    svg: str
    achieved: int


def progress_chart(
    *,
    start: dt.date,
    end: dt.date,
    target: int,
    daily: Sequence[tuple[dt.date, int]],
    forecast: Forecast,
    label: str,
) -> ProgressChart:
    """The chart for a period ``start``..``end`` (inclusive), the elapsed days' values
    ``daily`` (``goals.selectors_progress.goal_forecast``; days outside the period are
    ignored) and their ``forecast``. ``label`` is the chart's title (escaped)."""
    return _progress_svg(
        start=start,
        end=end,
        target=target,
        daily=daily,
        forecast=forecast,
        label=label,
        size=(WIDTH, HEIGHT, PAD),
        css_class="goal-chart",
        axes=True,
    )


#: The home page's small chart: a thumbnail of the goal page's chart (same lines, same
#: band) without axis texts, which would be unreadable at this size.
SMALL_WIDTH, SMALL_HEIGHT, SMALL_PAD = 160, 48, 4


def progress_chart_small(
    *,
    start: dt.date,
    end: dt.date,
    target: int,
    daily: Sequence[tuple[dt.date, int]],
    forecast: Forecast,
    label: str,
) -> ProgressChart:
    """``progress_chart`` drawn small and without axis texts (the home page's Goals
    section); still ``role="img"`` with ``label`` as its title, the figures being the
    page's text beside it."""
    return _progress_svg(
        start=start,
        end=end,
        target=target,
        daily=daily,
        forecast=forecast,
        label=label,
        size=(SMALL_WIDTH, SMALL_HEIGHT, SMALL_PAD),
        css_class="goal-chart goal-chart-small",
        axes=False,
    )


def _progress_svg(
    *,
    start: dt.date,
    end: dt.date,
    target: int,
    daily: Sequence[tuple[dt.date, int]],
    forecast: Forecast,
    label: str,
    size: tuple[int, int, int],
    css_class: str,
    axes: bool,
) -> ProgressChart:
    if end < start:
        raise ValueError(f"the period ends ({end}) before it starts ({start})")
    if target <= 0:
        raise ValueError(f"the target must be positive, got {target}")
    width, height, pad = size
    readings = sorted((day, value) for day, value in daily if start <= day <= end)
    points: list[tuple[dt.date, int]] = []
    total = 0
    for day, value in readings:
        total += value
        points.append((day, total))
    days_total = (end - start).days + 1
    band = forecast.enough_data and forecast.band_high is not None and points
    top = max(target, total, (forecast.band_high or 0) if band else 0, 1) * 1.1

    def x(day: dt.date) -> float:
        # Day i is drawn at the end of that day: the first reading sits one step in.
        return pad + (width - 2 * pad) * ((day - start).days + 1) / days_total

    def y(value: float) -> float:
        return height - pad - (height - 2 * pad) * value / top

    x0, y0 = pad, height - pad
    parts = [
        *svg_open(width=width, height=height, label=label, css_class=css_class),
        f'<line class="axis" x1="{x0}" y1="{y0}" x2="{width - pad}" y2="{y0}" stroke="#888"/>',
        f'<line class="target" x1="{x0}" y1="{y0}" x2="{x(end):.1f}" y2="{y(target):.1f}" '
        f'stroke="#c33" stroke-dasharray="6 4"/>',
    ]
    if axes:
        parts += [
            f'<text x="{x0}" y="{height - 10}" font-size="11">{escape(start.isoformat())}</text>',
            f'<text x="{width - pad - 70}" y="{height - 10}" font-size="11">'
            f"{escape(end.isoformat())}</text>",
            f'<text x="{x0}" y="{pad - 10}" font-size="11">target {target:,}</text>',
        ]
    if band and forecast.band_low is not None and forecast.projected_total is not None:
        lx, ly = x(points[-1][0]), y(total)
        parts.append(
            f'<polygon class="forecast" points="{lx:.1f},{ly:.1f} {x(end):.1f},'
            f'{y(forecast.band_high or 0):.1f} {x(end):.1f},{y(forecast.band_low):.1f}" '
            f'fill="#39c" fill-opacity="0.2"/>'
        )
        parts.append(
            f'<line class="projected" x1="{lx:.1f}" y1="{ly:.1f}" x2="{x(end):.1f}" '
            f'y2="{y(forecast.projected_total):.1f}" stroke="#39c" stroke-dasharray="2 3"/>'
        )
    if points:
        # From zero at the period's start, then each day's cumulative total.
        line = " ".join([f"{x0},{y0}", *(f"{x(day):.1f},{y(value):.1f}" for day, value in points)])
        parts.append(
            f'<polyline class="actual" points="{line}" fill="none" stroke="#393" stroke-width="2"/>'
        )
    parts.append("</svg>")
    return ProgressChart(svg="".join(parts), achieved=total)
