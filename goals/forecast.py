"""Progress, forecast and anomalies of a goal (pure: no ORM, no model, no clock).

Inputs are the goal's daily values (what was achieved on each day, not cumulative) for
the days already over; today is never counted, its figures are still coming in.

* **Run rate** is the mean per elapsed day, a day with no reading counting as 0: the
  period's achieved total is what counts toward the target, so it is divided by every
  day that has passed, not only the days a source happened to report.
* **Forecast**: projected total = achieved + run rate × remaining days (today included);
  the band is ± ``BAND_Z`` standard deviations of the daily values scaled by √remaining
  (independent days), clamped at the achieved total. Under ``MIN_POINTS`` elapsed days
  the trend says "not enough data" and no band is given: a band from 3 points is noise.
* **Completion date**: the day the running total reached the target when it already has
  (a goal met early), else today + the days the run rate needs; none at a zero rate.
* **Anomalies** use a robust z-score, 0.6745 × (x − median) / MAD, against the points
  before the ones being judged, so a sustained shift does not hide itself by moving the
  median. Only a run of ``sustained`` consecutive points beyond ``sigma`` on the same
  side is an anomaly: one odd day is a fluke, not a decision for a person.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import Any

__all__ = [
    "BAND_Z",
    "MIN_POINTS",
    "Anomaly",
    "Forecast",
    "Trend",
    "anomalies_detect",
    "daily_series",
    "forecast_compute",
]

#: Fewer elapsed days than this: "not enough data" (the issue's 7).
MIN_POINTS = 7
#: 80% two-sided band under a normal approximation.
BAND_Z = Decimal("1.2816")
#: Consistency constant that makes the MAD estimate σ for normal data.
_MAD_SCALE = 0.6745


class Trend:
    NOT_ENOUGH_DATA = "not_enough_data"
    AHEAD = "ahead"
    ON_TRACK = "on_track"
    BEHIND = "behind"


@dataclass(frozen=True)
class Forecast:
    """Where a goal stands and where it is heading; amounts in the goal's unit."""

    target: int
    achieved: int
    remaining: int
    days_total: int
    days_elapsed: int
    days_remaining: int
    progress_pct: Decimal
    run_rate: Decimal | None
    required_daily: int
    projected_total: int | None
    band_low: int | None
    band_high: int | None
    completion_date: date | None
    trend: str

    @property
    def enough_data(self) -> bool:
        return self.trend != Trend.NOT_ENOUGH_DATA

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "achieved": self.achieved,
            "remaining": self.remaining,
            "days_total": self.days_total,
            "days_elapsed": self.days_elapsed,
            "days_remaining": self.days_remaining,
            "progress_pct": str(self.progress_pct),
            "run_rate": None if self.run_rate is None else str(self.run_rate),
            "required_daily": self.required_daily,
            "projected_total": self.projected_total,
            "band_low": self.band_low,
            "band_high": self.band_high,
            "completion_date": None if self.completion_date is None else str(self.completion_date),
            "trend": self.trend,
        }


@dataclass(frozen=True)
class Anomaly:
    """A sustained deviation: the days judged, their robust z-scores, and the baseline."""

    days: tuple[date, ...]
    values: tuple[int, ...]
    z_scores: tuple[float, ...]
    median: float
    mad: float
    direction: str  # "up" or "down"

    @property
    def sigma(self) -> float:
        """The smallest |z| of the run: every judged day is at least this far out."""
        return min(abs(z) for z in self.z_scores)


def daily_series(
    *, start: date, today: date, readings: Sequence[tuple[date, int]]
) -> list[tuple[date, int]]:
    """One value per elapsed day (``start``..yesterday), 0 where nothing was read.

    Readings outside the window are ignored; two readings of one day are added (two
    sources of one metric are the caller's to avoid; this keeps the function total).
    """
    by_day: dict[date, int] = {}
    for day, value in readings:
        if start <= day < today:
            by_day[day] = by_day.get(day, 0) + value
    days = max((today - start).days, 0)
    return [(start + timedelta(d), by_day.get(start + timedelta(d), 0)) for d in range(days)]


def _ceil(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_CEILING))


def _round(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_HALF_UP))


def _day_reached(daily: Sequence[tuple[date, int]], *, target: int, before: int) -> date | None:
    """The day the running total first reached ``target``: when a goal met early was met."""
    total = before
    for day, value in sorted(daily):
        total += value
        if total >= target:
            return day
    return None


def forecast_compute(
    *,
    target: int,
    start: date,
    end: date,
    today: date,
    daily: Sequence[tuple[date, int]],
    achieved_before: int = 0,
) -> Forecast:
    """The forecast of a goal whose period is ``start``..``end`` (both included).

    ``daily`` are the elapsed days' values (see ``daily_series``); ``achieved_before``
    is anything counted toward the target that no daily value carries (a manual
    opening figure). Days after ``end`` are not elapsed days of the period.
    """
    if end < start:
        raise ValueError(f"the period ends ({end}) before it starts ({start})")
    days_total = (end - start).days + 1
    last_elapsed = min(today, end + timedelta(days=1))
    values = [value for day, value in daily if start <= day < last_elapsed]
    days_elapsed = max(min((last_elapsed - start).days, days_total), 0)
    days_remaining = days_total - days_elapsed
    achieved = achieved_before + sum(values)
    remaining = max(target - achieved, 0)
    progress = (
        (Decimal(achieved) * 100 / Decimal(target)).quantize(Decimal("0.1"), ROUND_HALF_UP)
        if target > 0
        else Decimal(0)
    )
    required_daily = _ceil(Decimal(remaining) / days_remaining) if days_remaining else remaining

    if days_elapsed == 0:
        return Forecast(
            target=target,
            achieved=achieved,
            remaining=remaining,
            days_total=days_total,
            days_elapsed=0,
            days_remaining=days_remaining,
            progress_pct=progress,
            run_rate=None,
            required_daily=required_daily,
            projected_total=None,
            band_low=None,
            band_high=None,
            completion_date=None,
            trend=Trend.NOT_ENOUGH_DATA,
        )

    # Missing days are zeros: pad to the elapsed count.
    padded = values + [0] * (days_elapsed - len(values))
    run_rate = (Decimal(sum(padded)) / days_elapsed).quantize(Decimal("0.01"), ROUND_HALF_UP)
    projected = achieved + _round(run_rate * days_remaining)

    completion: date | None
    if remaining == 0:
        completion = _day_reached(daily, target=target, before=achieved_before) or min(today, end)
    elif run_rate > 0:
        completion = today + timedelta(days=_ceil(Decimal(remaining) / run_rate) - 1)
    else:
        completion = None

    if days_elapsed < MIN_POINTS:
        trend = Trend.NOT_ENOUGH_DATA
        low = high = None
    else:
        spread = Decimal(str(statistics.pstdev(padded))) * BAND_Z
        half = spread * Decimal(days_remaining).sqrt() if days_remaining else Decimal(0)
        low = max(achieved, _round(Decimal(projected) - half))
        high = _round(Decimal(projected) + half)
        if projected >= target and low >= target:
            trend = Trend.AHEAD
        elif high >= target:
            trend = Trend.ON_TRACK
        else:
            trend = Trend.BEHIND
    return Forecast(
        target=target,
        achieved=achieved,
        remaining=remaining,
        days_total=days_total,
        days_elapsed=days_elapsed,
        days_remaining=days_remaining,
        progress_pct=progress,
        run_rate=run_rate,
        required_daily=required_daily,
        projected_total=projected,
        band_low=low,
        band_high=high,
        completion_date=completion,
        trend=trend,
    )


def anomalies_detect(
    *,
    daily: Sequence[tuple[date, int]],
    sigma: float,
    min_points: int = MIN_POINTS,
    sustained: int = 2,
) -> Anomaly | None:
    """The sustained deviation at the end of ``daily``, or None.

    The last ``sustained`` days are judged against the days before them (at least
    ``min_points`` of those); each must be beyond ``sigma`` robust standard deviations
    on the same side. A flat baseline (MAD 0) judges by the mean absolute deviation
    instead, and a baseline with no spread at all flags any change of the level.
    """
    if sustained < 1:
        raise ValueError("sustained must be at least 1")
    if len(daily) < min_points + sustained:
        return None
    baseline = [value for _, value in daily[:-sustained]]
    judged = list(daily[-sustained:])
    median = statistics.median(baseline)
    mad = statistics.median(abs(v - median) for v in baseline)
    if mad == 0:
        # Mean absolute deviation × 1.2533 estimates σ for normal data as well.
        mean_ad = statistics.fmean(abs(v - median) for v in baseline)
        scale = mean_ad * 1.2533
    else:
        scale = mad / _MAD_SCALE
    z_scores: list[float] = []
    for _, value in judged:
        if scale == 0:
            z = 0.0 if value == median else float("inf") if value > median else float("-inf")
        else:
            z = (value - median) / scale
        z_scores.append(z)
    if all(z > sigma for z in z_scores):
        direction = "up"
    elif all(z < -sigma for z in z_scores):
        direction = "down"
    else:
        return None
    return Anomaly(
        days=tuple(day for day, _ in judged),
        values=tuple(value for _, value in judged),
        z_scores=tuple(z_scores),
        median=float(median),
        mad=float(mad),
        direction=direction,
    )
