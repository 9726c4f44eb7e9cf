"""The progress chart (pure): cumulative actual, target line, forecast band or "not
enough data", and text that cannot inject markup."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from goals.charts import MIN_FORECAST_DAYS, forecast_band, progress_chart

START = dt.date(2026, 12, 1)


def _days(values: list[int]) -> list[tuple[dt.date, int]]:
    return [(START + dt.timedelta(days=i), value) for i, value in enumerate(values)]


def test_it_sums_the_days_into_the_cumulative_actual():
    chart = progress_chart(
        start=START,
        end=START + dt.timedelta(days=29),
        target=3000,
        daily=_days([100, 200, 50]),
        label="revenue",
    )
    assert chart.achieved == 350
    # The actual line: zero at the start, then one point per day read.
    points = re.search(r'class="actual" points="([^"]+)"', chart.svg).group(1).split()
    assert len(points) == 4
    assert 'class="target"' in chart.svg


def test_it_says_not_enough_data_under_seven_days():
    chart = progress_chart(
        start=START,
        end=START + dt.timedelta(days=29),
        target=3000,
        daily=_days([100] * (MIN_FORECAST_DAYS - 1)),
        label="revenue",
    )
    assert chart.forecast is None
    assert "not enough data" in chart.note
    assert "not enough data" in chart.svg
    assert 'class="forecast"' not in chart.svg


def test_it_projects_a_band_from_the_run_rate_with_seven_days():
    daily = [100, 120, 80, 100, 110, 90, 100]
    chart = progress_chart(
        start=START,
        end=START + dt.timedelta(days=9),
        target=1000,
        daily=_days(daily),
        label="revenue",
    )
    assert chart.forecast is not None
    # 700 so far, mean 100 a day, 3 days left: 1000 in the middle, a band around it.
    assert chart.forecast.mid == 1000
    assert chart.forecast.low < 1000 < chart.forecast.high
    assert 'class="forecast"' in chart.svg


def test_the_band_never_falls_below_what_is_achieved():
    band = forecast_band(daily=[0, 0, 0, 0, 0, 0, 700], achieved=700, days_left=30)
    assert band is not None
    assert band.low == 700


def test_days_outside_the_period_are_ignored():
    daily = [(START - dt.timedelta(days=1), 999), (START, 10)]
    chart = progress_chart(
        start=START, end=START + dt.timedelta(days=6), target=100, daily=daily, label="r"
    )
    assert chart.achieved == 10


def test_its_text_is_escaped():
    chart = progress_chart(
        start=START, end=START, target=10, daily=[], label='<script>alert("x")</script>'
    )
    assert "<script>" not in chart.svg
    assert "&lt;script&gt;" in chart.svg


def test_it_refuses_an_inverted_period_or_no_target():
    with pytest.raises(ValueError, match="ends"):
        progress_chart(start=START, end=START - dt.timedelta(days=1), target=1, daily=[], label="")
    with pytest.raises(ValueError, match="positive"):
        progress_chart(start=START, end=START, target=0, daily=[], label="")
