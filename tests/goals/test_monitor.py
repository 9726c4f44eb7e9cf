"""goals.services.monitor: snapshots, forecast stored, anomalies, adjustment, closing."""

from __future__ import annotations

import datetime as dt
from datetime import date
from decimal import Decimal

import pytest
import time_machine

from decisions.models import AuditEvent, Decision
from goals.models import Goal, MetricSnapshot, PlanRevision
from goals.selectors import plan_current
from goals.selectors_progress import goal_forecast, goal_readings
from goals.services.monitor import (
    ANOMALY_ACTION,
    goal_monitor,
    goals_monitor_due,
    snapshots_take_once,
)
from goals.sources import Reading
from tests.goals.monitor_setup import day, goal_active, readings

pytestmark = pytest.mark.django_db


class CountingSource:
    """A polled source that counts how often it is asked."""

    name = MetricSnapshot.Source.SHEETS.value

    def __init__(self) -> None:
        self.calls = 0

    def enabled(self) -> bool:
        return True

    def read(self, *, metric: str, day: date) -> Reading | None:
        self.calls += 1
        return Reading(value=1234, currency="JPY") if metric == "revenue" else None


def test_snapshots_are_taken_once_per_source_and_day():
    source = CountingSource()
    assert snapshots_take_once(day=day(3), sources=[source]) == ["sheets"]
    calls = source.calls
    assert calls > 0
    assert snapshots_take_once(day=day(3), sources=[source]) == []
    assert source.calls == calls
    assert MetricSnapshot.objects.filter(source="sheets", date=day(3)).count() == 1
    # Another day is read again.
    snapshots_take_once(day=day(4), sources=[source])
    assert source.calls == 2 * calls


def test_a_manual_entry_wins_over_whop_and_other_currencies_are_not_counted():
    goal = goal_active()
    readings(100, 200, source="whop")
    readings(150, source="manual")
    MetricSnapshot.objects.create(
        source="sheets", metric="revenue", date=day(1), value=9, currency="USD"
    )
    assert goal_readings(goal=goal, today=day(5)) == [(day(0), 150), (day(1), 200)]


def test_the_monitor_records_its_day_in_the_audit_once_and_leaves_the_plan_untouched():
    goal = goal_active()
    readings(*[500_000] * 3)
    document_before = plan_current(goal_id=goal.pk).document
    report = goal_monitor(goal_id=goal.pk, today=day(3))
    assert report.outcome == "monitored"
    assert report.forecast is not None and report.forecast.achieved == 1_500_000
    # The revision a goal runs on is never edited by the monitor.
    assert plan_current(goal_id=goal.pk).document == document_before
    rows = AuditEvent.objects.filter(action="goals.goal_monitored")
    assert [row.data["day"] for row in rows] == ["2026-03-04"]
    assert rows[0].data["achieved"] == 1_500_000
    assert rows[0].data["trend"] == "not_enough_data"
    assert goal_monitor(goal_id=goal.pk, today=day(3)).outcome == "already"
    assert AuditEvent.objects.filter(action="goals.goal_monitored").count() == 1
    # The next day is monitored again.
    assert goal_monitor(goal_id=goal.pk, today=day(4)).outcome == "monitored"


def test_behind_by_a_little_adjusts_the_volumes_automatically():
    # 8 days at 100,000; 2,060,000 needs 105,000 a day for the 12 left: 5% more.
    goal = goal_active(target=2_060_000)
    readings(*[100_000] * 8)
    report = goal_monitor(goal_id=goal.pk, today=day(8))
    assert report.adjustment is not None and report.adjustment.outcome == "applied"
    current = plan_current(goal_id=goal.pk)
    assert current.number == 2 and current.reason == PlanRevision.Reason.ADJUSTMENT
    assert current.document["actions"][0]["per_day"] == 26
    assert current.document["adjustment"]["factor"] == "1.0500"
    assert "monitor" not in current.document
    assert report.forecast is not None and report.forecast.required_daily == 105_000


def test_not_enough_data_does_not_adjust():
    goal = goal_active(target=2_060_000)
    readings(*[10_000] * 5)
    report = goal_monitor(goal_id=goal.pk, today=day(5))
    assert report.adjustment is None
    assert PlanRevision.objects.filter(goal=goal).count() == 1


def test_a_sustained_drop_asks_once():
    goal = goal_active(target=2_000_000)
    readings(100_000, 104_000, 98_000, 101_000, 97_000, 103_000, 99_000, 102_000, 9_000, 8_000)
    first = goal_monitor(goal_id=goal.pk, today=day(10))
    decision = first.anomaly_decision
    assert decision is not None and decision.kind == "anomaly"
    assert "100,500" in decision.situation  # the median of the usual days
    assert "Mar 09: 9,000" in decision.situation
    assert decision.recommendation == "replan"
    assert set(decision.options.values_list("key", flat=True)) == {
        "acknowledge",
        "pause",
        "replan",
        "reject",
    }
    # The drop continues the next day: the same anomaly, not a second question.
    readings(7_000, start=day(10))
    second = goal_monitor(goal_id=goal.pk, today=day(11))
    assert second.anomaly_decision is None
    assert Decision.objects.filter(action=ANOMALY_ACTION).count() == 1


def test_reaching_the_target_early_closes_the_goal_as_achieved():
    goal = goal_active(target=1_000_000)
    readings(400_000, 700_000)
    report = goal_monitor(goal_id=goal.pk, today=day(2))
    assert (report.outcome, report.closed_as) == ("closed", "achieved")
    goal.refresh_from_db()
    assert goal.status == Goal.Status.ACHIEVED
    event = AuditEvent.objects.get(action="goals.goal_closed")
    assert event.data["early"] is True and event.data["to"] == "achieved"
    assert goal_monitor(goal_id=goal.pk, today=day(3)).outcome == "not_active"


def test_after_the_period_a_short_goal_is_missed():
    goal = goal_active(target=10_000_000)
    readings(*[100_000] * 20)
    report = goal_monitor(goal_id=goal.pk, today=day(20))
    assert report.closed_as == "missed"
    goal.refresh_from_db()
    assert goal.status == Goal.Status.MISSED
    assert AuditEvent.objects.get(action="goals.goal_closed").data["achieved"] == 2_000_000


def test_the_tick_monitors_every_active_goal_and_skips_the_rest():
    active = goal_active(target=1_000_000)
    cancelled = goal_active()
    Goal.objects.filter(pk=cancelled.pk).update(status=Goal.Status.CANCELLED)
    readings(600_000, 600_000)
    with time_machine.travel(dt.datetime(2026, 3, 3, 9, 0, tzinfo=dt.UTC), tick=False):
        reports = goals_monitor_due()
    assert [(r.goal_id, r.outcome) for r in reports] == [(active.pk, "closed")]
    assert Decimal(reports[0].forecast.progress_pct) == Decimal("120.0")


def test_each_tick_takes_the_goals_not_yet_monitored_today(monkeypatch):
    """A batch smaller than the active goals: the next tick takes the ones left, so every
    goal is reached (the first batch is not taken again and again)."""
    monkeypatch.setattr("goals.services.monitor.MONITOR_BATCH", 2)
    goals = [goal_active() for _ in range(3)]
    with time_machine.travel(dt.datetime(2026, 3, 3, 9, 0, tzinfo=dt.UTC), tick=False):
        first = [r.goal_id for r in goals_monitor_due()]
        second = [r.goal_id for r in goals_monitor_due()]
        third = goals_monitor_due()
    assert first == [goals[0].pk, goals[1].pk]
    assert second == [goals[2].pk]
    assert third == []


def test_the_monitor_schedule_runs_the_tick_task():
    from importlib import import_module

    from goals.services.schedules import SCHEDULES

    path, minutes = SCHEDULES["goals.monitor"]
    module, name = path.rsplit(".", 1)
    task = getattr(import_module(module), name)
    goal = goal_active(target=1_000_000)
    readings(600_000, 600_000)
    with time_machine.travel(dt.datetime(2026, 3, 3, 9, 0, tzinfo=dt.UTC), tick=False):
        assert task() == 1
    goal.refresh_from_db()
    assert goal.status == Goal.Status.ACHIEVED
    assert minutes == 60


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_ticks_closing_one_goal_at_once_close_it_once():
    from goals.services.monitor import goal_close
    from tests.concurrency import run_together

    goal = goal_active(target=1_000_000)
    readings(600_000, 600_000)
    forecast, _ = goal_forecast(goal=goal, today=day(2))
    results, errors = run_together(
        lambda _: goal_close(
            goal_id=goal.pk, status=Goal.Status.ACHIEVED, forecast=forecast, today=day(2)
        ),
        2,
    )
    assert not errors, errors
    assert sorted(results) == [False, True]
    assert AuditEvent.objects.filter(action="goals.goal_closed").count() == 1
