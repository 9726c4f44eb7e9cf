"""``goals.selectors_progress``: one source per day by the documented order (never the
largest, never a sum), and the monitor, the reports and the goal page read the same
figures from it."""

from __future__ import annotations

import pytest

from goals.models import GoalReport
from goals.selectors_progress import (
    goal_forecast,
    goal_readings,
    goal_readings_sourced,
    goals_forecasts,
)
from goals.services.reports import goal_report_make
from tests.goals.report_data import at, day, goal_make, reading

pytestmark = pytest.mark.django_db


def _three_sources():
    goal = goal_make()
    # Day 1: the ledger (whop) is lower than the webhook's view; the ledger wins.
    reading(day(1), 300_000, source="whop")
    reading(day(1), 350_000, source="whop_webhook")
    # Day 2: a person's correction beats the ledger even when it is smaller.
    reading(day(2), 500_000, source="whop")
    reading(day(2), 100_000, source="manual")
    # Day 3: only sheets and workflow runs: sheets wins.
    reading(day(3), 20_000, source="workflow_runs")
    reading(day(3), 10_000, source="sheets")
    # Another currency is not this goal's money; today (day 4) is not counted yet.
    reading(day(3), 999_999, source="manual", currency="USD")
    reading(day(4), 777_777, source="manual")
    return goal


def test_one_source_per_day_in_the_documented_order():
    goal = _three_sources()
    assert goal_readings_sourced(goal=goal, today=day(4)) == [
        (day(1), 300_000, "whop"),
        (day(2), 100_000, "manual"),
        (day(3), 10_000, "sheets"),
    ]
    forecast, daily = goal_forecast(goal=goal, today=day(4))
    assert forecast.achieved == 410_000
    assert daily == [(day(1), 300_000), (day(2), 100_000), (day(3), 10_000)]


def test_many_goals_in_one_query_agree_with_one_goal_at_a_time(django_assert_num_queries):
    goal = _three_sources()
    other = goal_make(text="1週間で30人", metric="customers", target=30)
    reading(day(1), 4, source="workflow_runs", metric="customers")
    reading(day(1), 3, source="sheets", metric="customers")
    with django_assert_num_queries(1):
        both = goals_forecasts(goals=[goal, other], today=day(4))
    assert both[goal.pk] == goal_forecast(goal=goal, today=day(4))
    assert both[other.pk][0].achieved == 3
    assert goal_readings(goal=other, today=day(4)) == [(day(1), 3)]


def test_the_report_counts_what_the_selector_counts():
    goal = _three_sources()
    report = goal_report_make(
        goal_id=goal.pk, kind=GoalReport.Kind.DAILY, period_end=day(3), now=at(day(4))
    )
    assert report.figures["achieved"] == goal_forecast(goal=goal, today=day(4))[0].achieved
    assert report.figures["achieved"] == 410_000
