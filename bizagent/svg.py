"""Small server-side SVG charts (pure: no ORM, no I/O), the house way to draw a chart.

Why SVG on the server: no JavaScript library to vendor or load, the page works without
scripts, and every text goes through ``html.escape`` so data cannot inject markup.
Every chart is ``role="img"`` with a ``<title>`` and an ``aria-label``; the figures it
draws are the page's to show again as a table (the text fallback).

``svg_open`` starts any chart (``goals.charts`` uses it too); ``bar_chart`` draws one
bar per period with optional lines over it (averages, a budget) on a second scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

__all__ = ["Series", "bar_chart", "svg_open"]

WIDTH, HEIGHT, PAD = 640, 240, 40
#: Colours the lines take in turn (bars are grey-blue); dash patterns tell them apart in
#: print and for people who do not see colour.
LINE_STYLES = (("#c33", "6 4"), ("#393", ""), ("#c80", "2 3"), ("#639", "8 2 2 2"))


def svg_open(*, width: int, height: int, label: str, css_class: str) -> list[str]:
    """The opening tag and title of a chart: ``role="img"``, labelled by ``label``."""
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="{escape(css_class)}" viewBox="0 0 '
        f'{width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(label)}">',
        f"<title>{escape(label)}</title>",
    ]


@dataclass(frozen=True)
class Series:
    """A line over the bars: its name (shown in the legend) and one value per bar
    (``None``: no value that period, the line skips it)."""

    name: str
    values: Sequence[float | None]
    css_class: str = "line"


def bar_chart(
    *,
    labels: Sequence[str],
    bars: Sequence[float],
    label: str,
    css_class: str,
    lines: Sequence[Series] = (),
    line_top: float | None = None,
    lines_share_bar_scale: bool = False,
) -> str:
    """Bars for ``bars`` (one per ``labels`` entry) and ``lines`` over them.

    Lines use their own scale from 0 to ``line_top`` (e.g. scores 0..1) unless
    ``lines_share_bar_scale`` (e.g. a budget in the same tokens as the bars). ``label``
    is the chart's title (escaped); the first and last ``labels`` mark the axis."""
    if len(bars) != len(labels):
        raise ValueError(f"{len(bars)} bars for {len(labels)} labels")
    for series in lines:
        if len(series.values) != len(labels):
            raise ValueError(f"the line {series.name!r} has {len(series.values)} values")
    count = max(len(labels), 1)
    line_values = [v for series in lines for v in series.values if v is not None]
    bar_top = max([*bars, *(line_values if lines_share_bar_scale else []), 1]) * 1.1
    top_of_lines = bar_top if lines_share_bar_scale else (line_top or max([*line_values, 1]))
    step = (WIDTH - 2 * PAD) / count
    x0, y0 = PAD, HEIGHT - PAD

    def y(value: float, top: float) -> float:
        return HEIGHT - PAD - (HEIGHT - 2 * PAD) * value / top

    parts = svg_open(width=WIDTH, height=HEIGHT, label=label, css_class=css_class)
    parts.append(
        f'<line class="axis" x1="{x0}" y1="{y0}" x2="{WIDTH - PAD}" y2="{y0}" stroke="#888"/>'
    )
    for i, value in enumerate(bars):
        top = y(value, bar_top)
        parts.append(
            f'<rect class="bar" x="{x0 + i * step + step * 0.15:.1f}" y="{top:.1f}" '
            f'width="{step * 0.7:.1f}" height="{y0 - top:.1f}" fill="#8ab"/>'
        )
    for n, series in enumerate(lines):
        colour, dash = LINE_STYLES[n % len(LINE_STYLES)]
        points = " ".join(
            f"{x0 + (i + 0.5) * step:.1f},{y(v, top_of_lines):.1f}"
            for i, v in enumerate(series.values)
            if v is not None
        )
        if points:
            dashes = f' stroke-dasharray="{dash}"' if dash else ""
            parts.append(
                f'<polyline class="{escape(series.css_class)}" points="{points}" fill="none" '
                f'stroke="{colour}" stroke-width="2"{dashes}/>'
            )
        parts.append(
            f'<text x="{x0 + n * 150}" y="{PAD - 22}" font-size="11" fill="{colour}">'
            f"— {escape(series.name)}</text>"
        )
    if labels:
        parts.append(f'<text x="{x0}" y="{HEIGHT - 10}" font-size="11">{escape(labels[0])}</text>')
        parts.append(
            f'<text x="{WIDTH - PAD - 70}" y="{HEIGHT - 10}" font-size="11">'
            f"{escape(labels[-1])}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
