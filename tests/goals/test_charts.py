"""The progress chart (pure): cumulative actual, target line, the forecast band of
``goals.forecast`` (none without enough data), and text that cannot inject markup."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from goals.charts import progress_chart, progress_chart_small
from goals.forecast import daily_series, forecast_compute

START = dt.date(2026, 12, 1)
END = START + dt.timedelta(days=29)


def _chart(values: list[int], *, target: int = 3000, label: str = "revenue", end=END):
    today = START + dt.timedelta(days=len(values))
    daily = daily_series(
        start=START,
        today=today,
        readings=[(START + dt.timedelta(days=i), v) for i, v in enumerate(values)],
    )
    forecast = forecast_compute(target=target, start=START, end=end, today=today, daily=daily)
    return progress_chart(
        start=START, end=end, target=target, daily=daily, forecast=forecast, label=label
    ), forecast


def test_it_sums_the_days_into_the_cumulative_actual():
    chart, _ = _chart([100, 200, 50])
    assert chart.achieved == 350
    # The actual line: zero at the start, then one point per elapsed day.
    points = re.search(r'class="actual" points="([^"]+)"', chart.svg).group(1).split()
    assert len(points) == 4
    heights = [float(p.split(",")[1]) for p in points]
    assert heights == sorted(heights, reverse=True)  # cumulative: never goes down


def test_no_band_without_enough_data():
    chart, forecast = _chart([100] * 6)
    assert not forecast.enough_data
    assert 'class="forecast"' not in chart.svg and 'class="projected"' not in chart.svg
    assert 'class="target"' in chart.svg


def test_a_week_of_data_draws_the_forecast_band_and_projected_line():
    chart, forecast = _chart([100, 90, 110, 100, 95, 105, 100])
    assert forecast.enough_data and forecast.band_low < forecast.band_high
    band = re.search(r'class="forecast" points="([^"]+)"', chart.svg).group(1).split()
    ys = [float(p.split(",")[1]) for p in band]
    # From the last actual to the period's end: the high end is drawn above the low end.
    assert ys[1] < ys[2]
    assert 'class="projected"' in chart.svg


def test_the_label_cannot_inject_markup():
    chart, _ = _chart([100], label='<script>alert("x")</script>')
    assert "<script>" not in chart.svg and "&lt;script&gt;" in chart.svg


def test_bad_periods_and_targets_are_refused():
    _, forecast = _chart([1])
    with pytest.raises(ValueError, match="ends"):
        progress_chart(
            start=START,
            end=START - dt.timedelta(days=1),
            target=1,
            daily=[],
            forecast=forecast,
            label="",
        )
    with pytest.raises(ValueError, match="positive"):
        progress_chart(start=START, end=START, target=0, daily=[], forecast=forecast, label="")


def test_the_small_chart_draws_the_same_lines_without_axis_texts():
    values = [100, 90, 110, 100, 95, 105, 100]
    big, forecast = _chart(values)
    today = START + dt.timedelta(days=len(values))
    daily = daily_series(
        start=START,
        today=today,
        readings=[(START + dt.timedelta(days=i), v) for i, v in enumerate(values)],
    )
    small = progress_chart_small(
        start=START, end=END, target=3000, daily=daily, forecast=forecast, label="<b>sales</b>"
    )
    assert small.achieved == big.achieved == 700
    for part in ("actual", "target", "forecast", "projected"):
        assert f'class="{part}"' in small.svg, part
    assert 'role="img"' in small.svg and "<title>&lt;b&gt;sales&lt;/b&gt;</title>" in small.svg
    assert 'width="160" height="48"' in small.svg
    assert "<text" not in small.svg and "<text" in big.svg
    # The same shape scaled down: the actual line has a point per elapsed day.
    points = re.search(r'class="actual" points="([^"]+)"', small.svg).group(1).split()
    assert len(points) == len(values) + 1
