"""goals.forecast: the forecast and anomaly tables (pure: no database)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from goals.forecast import Trend, anomalies_detect, daily_series, forecast_compute

START = date(2026, 3, 1)


def days(*values: int, start: date = START) -> list[tuple[date, int]]:
    return [(start + timedelta(n), v) for n, v in enumerate(values)]


def compute(values: list[int], *, target: int, length: int = 20, elapsed: int | None = None):
    elapsed = len(values) if elapsed is None else elapsed
    return forecast_compute(
        target=target,
        start=START,
        end=START + timedelta(length - 1),
        today=START + timedelta(elapsed),
        daily=days(*values),
    )


def test_no_data_yet_says_not_enough_data_and_forecasts_nothing():
    f = compute([], target=4000)
    assert (f.days_elapsed, f.days_remaining, f.achieved) == (0, 20, 0)
    assert f.run_rate is None and f.projected_total is None and f.completion_date is None
    assert f.trend == Trend.NOT_ENOUGH_DATA and not f.enough_data
    assert f.required_daily == 200


def test_under_seven_days_has_a_run_rate_but_no_band_or_trend():
    f = compute([100, 200, 300], target=4000)
    assert f.run_rate == Decimal("200.00")
    assert f.projected_total == 600 + 200 * 17
    assert (f.band_low, f.band_high) == (None, None)
    assert f.trend == Trend.NOT_ENOUGH_DATA


def test_ahead_when_even_the_low_end_of_the_band_reaches_the_target():
    f = compute([200] * 10, target=3000)
    assert f.projected_total == 4000
    assert f.band_low == f.band_high == 4000  # no spread, no band width
    assert f.trend == Trend.AHEAD


def test_on_track_band_width_from_the_daily_spread():
    f = compute([100, 300] * 5, target=4000)
    # pstdev 100 × 1.2816 × √10 = 405.28 either side of 4000.
    assert (f.projected_total, f.band_low, f.band_high) == (4000, 3595, 4405)
    assert f.trend == Trend.ON_TRACK


def test_behind_with_required_daily_and_completion_date_at_the_run_rate():
    f = compute([100] * 10, target=4000)
    assert f.trend == Trend.BEHIND
    assert f.required_daily == 300  # 3000 left over 10 days
    assert f.run_rate == Decimal("100.00")
    # 3000 more at 100 a day: today is the first of 30 days.
    assert f.completion_date == START + timedelta(10 + 29)


def test_zero_run_rate_has_no_completion_date():
    f = compute([0] * 8, target=4000)
    assert f.run_rate == Decimal("0.00")
    assert f.completion_date is None
    assert f.projected_total == 0
    assert f.trend == Trend.BEHIND


def test_missing_days_count_as_zero():
    series = daily_series(start=START, today=START + timedelta(4), readings=days(10, 20))
    assert [v for _, v in series] == [10, 20, 0, 0]
    f = compute([10, 20], target=100, elapsed=4)
    assert f.run_rate == Decimal("7.50")


def test_period_over_asks_the_whole_remainder_and_ignores_later_days():
    f = forecast_compute(
        target=4000,
        start=START,
        end=START + timedelta(9),
        today=START + timedelta(15),
        daily=days(*([100] * 15)),
    )
    assert (f.days_elapsed, f.days_remaining) == (10, 0)
    assert f.achieved == 1000  # days after the end are not the period's
    assert f.required_daily == 3000
    assert f.projected_total == 1000


def test_target_met_early_completes_on_the_day_it_was_reached():
    f = compute([500, 500, 1500, 100], target=2000)
    assert f.remaining == 0 and f.progress_pct == Decimal("130.0")
    assert f.completion_date == START + timedelta(2)
    assert f.required_daily == 0


def test_inverted_period_is_refused():
    with pytest.raises(ValueError, match="ends"):
        forecast_compute(target=1, start=START, end=START - timedelta(1), today=START, daily=[])


# --- anomalies -------------------------------------------------------------------------


def test_flat_series_is_no_anomaly():
    assert anomalies_detect(daily=days(*([100] * 12)), sigma=3.0) is None


def test_one_spike_is_ignored():
    base = [100, 104, 98, 101, 97, 103, 99, 102]
    assert anomalies_detect(daily=days(*base, 100, 400), sigma=3.0) is None


def test_sustained_drop_is_flagged_with_its_evidence():
    base = [100, 104, 98, 101, 97, 103, 99, 102]
    anomaly = anomalies_detect(daily=days(*base, 20, 15), sigma=3.0)
    assert anomaly is not None
    assert anomaly.direction == "down"
    assert anomaly.values == (20, 15)
    assert anomaly.days == (START + timedelta(8), START + timedelta(9))
    assert anomaly.median == 100.5
    assert anomaly.sigma >= 3.0


def test_too_few_points_is_no_anomaly():
    assert anomalies_detect(daily=days(100, 100, 100, 100, 100, 100, 10, 10), sigma=3.0) is None


def test_mad_zero_falls_back_to_mean_absolute_deviation():
    # Most days equal: MAD is 0, but the baseline does vary (one day at 130).
    base = [100, 100, 100, 100, 100, 100, 130]
    # Mean AD 30/7 × 1.2533 ≈ 5.37: 120 is 3.7σ out, 110 only 1.9σ.
    assert anomalies_detect(daily=days(*base, 120, 120), sigma=3.0) is not None
    assert anomalies_detect(daily=days(*base, 110, 110), sigma=3.0) is None


def test_mad_zero_and_no_spread_at_all_flags_any_change_of_level():
    anomaly = anomalies_detect(daily=days(*([100] * 7), 101, 102), sigma=3.0)
    assert anomaly is not None and anomaly.direction == "up"
