"""A goal's daily values and forecast: the one place they are computed (read only).

The monitor (forecast, anomalies, adjustments, closing), the reports (figures, Sheets
rows), the goal page, its chart and the admin index all read a goal's progress here, so
they cannot disagree about what was achieved.

Which source wins: a goal's value on a day is **one** source's reading, the first present
in ``SOURCE_PRECEDENCE``: a person's manual entry (a deliberate correction), then the
Whop API (the ledger), Whop webhooks (a live partial view of the same sales), the Sheets
range, then workflow run outputs. Readings are never added across sources: two sources
of one sale would count it twice. Growth goals are measured in revenue; revenue only in
the goal's currency.

The forecast is computed on read (``goals.forecast.forecast_compute`` over one query of
the goal's snapshots), never stored: a stored forecast is stale the moment a late
reading arrives.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from django.db.models import Q

from goals.forecast import Forecast, daily_series, forecast_compute
from goals.models import Goal, MetricSnapshot
from goals.vocabulary import Metric

__all__ = [
    "SOURCE_PRECEDENCE",
    "goal_forecast",
    "goal_measure",
    "goal_readings",
    "goal_readings_sourced",
    "goals_forecasts",
]

Source = MetricSnapshot.Source

#: First present wins, per day (see the module docstring).
SOURCE_PRECEDENCE: tuple[str, ...] = (
    Source.MANUAL,
    Source.WHOP,
    Source.WHOP_WEBHOOK,
    Source.SHEETS,
    Source.WORKFLOW_RUNS,
)
_RANK = {source: n for n, source in enumerate(SOURCE_PRECEDENCE)}


def goal_measure(goal: Goal) -> str:
    """The metric a goal's progress is read in (growth is revenue framed relatively)."""
    return Metric.REVENUE.value if goal.metric == Metric.REVENUE_GROWTH else str(goal.metric)


def _goal_filter(goal: Goal, *, until: date) -> Q:
    """The goal's snapshots from its period's start to ``until`` (exclusive)."""
    measure = goal_measure(goal)
    condition = Q(metric=measure, date__gte=goal.period_start, date__lt=until)
    if measure == Metric.REVENUE:
        condition &= Q(currency=goal.currency)
    return condition


def _pick(rows: Sequence[tuple[str, date, int]]) -> list[tuple[date, int, str]]:
    """(source, day, value) rows → one (day, value, source) per day by precedence."""
    best: dict[date, tuple[int, int, str]] = {}
    for source, day, value in rows:
        order = _RANK.get(source, len(_RANK))
        if day not in best or order < best[day][0]:
            best[day] = (order, value, source)
    return [(day, value, source) for day, (_, value, source) in sorted(best.items())]


def _until(goal: Goal, today: date) -> date:
    # Days after the period are not the goal's; today is never counted (still coming in).
    return min(today, goal.period_end + timedelta(days=1))


def goal_readings_sourced(*, goal: Goal, today: date) -> list[tuple[date, int, str]]:
    """(day, value, winning source) per day of the goal's period before ``today``."""
    rows = MetricSnapshot.objects.filter(_goal_filter(goal, until=_until(goal, today)))
    return _pick(list(rows.values_list("source", "date", "value")))


def goal_readings(*, goal: Goal, today: date) -> list[tuple[date, int]]:
    """One value per day of the goal's period before ``today``: the winning source's."""
    return [(day, value) for day, value, _ in goal_readings_sourced(goal=goal, today=today)]


def _forecast(
    goal: Goal, today: date, readings: Sequence[tuple[date, int]]
) -> tuple[Forecast, list[tuple[date, int]]]:
    daily = daily_series(start=goal.period_start, today=_until(goal, today), readings=readings)
    forecast = forecast_compute(
        target=goal.target_amount,
        start=goal.period_start,
        end=goal.period_end,
        today=today,
        daily=daily,
    )
    return forecast, daily


def goal_forecast(*, goal: Goal, today: date) -> tuple[Forecast, list[tuple[date, int]]]:
    """The goal's forecast on ``today`` and the daily series (0 on days without a
    reading) it was computed from. One query."""
    return _forecast(goal, today, goal_readings(goal=goal, today=today))


def goals_forecasts(
    *, goals: Sequence[Goal], today: date
) -> dict[int, tuple[Forecast, list[tuple[date, int]]]]:
    """``goal_forecast`` for many goals in one query (the admin index)."""
    if not goals:
        return {}
    condition = Q()
    for goal in goals:
        condition |= _goal_filter(goal, until=_until(goal, today))
    rows = MetricSnapshot.objects.filter(condition).values_list(
        "metric", "currency", "source", "date", "value"
    )
    by_key: dict[tuple[str, str], list[tuple[str, date, int]]] = {}
    for metric, currency, source, day, value in rows:
        by_key.setdefault((metric, currency or ""), []).append((source, day, value))
    result = {}
    for goal in goals:
        measure = goal_measure(goal)
        if measure == Metric.REVENUE:
            candidates = by_key.get((measure, goal.currency), [])
        else:
            candidates = [row for (m, _), rows_ in by_key.items() if m == measure for row in rows_]
        until = _until(goal, today)
        mine = [row for row in candidates if goal.period_start <= row[1] < until]
        readings = [(day, value) for day, value, _ in _pick(mine)]
        result[goal.pk] = _forecast(goal, today, readings)
    return result
