"""Goal reports (``goals.services.reports``): the figures on constructed data, one report
per goal, kind and period however often asked, the Sheets rows with their uuids, and the
tick's daily, weekly and final cadence. Mail delivery: test_report_mail.py."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import time_machine
from django.core import mail

from decisions.mirror import GOALS_TRACKER, PERFORMANCE_METRICS, SHEET_TABS
from decisions.models import AuditEvent, SheetRow
from goals.forecast import Trend
from goals.models import Goal, GoalReport, GoalRun, PlanRevision
from goals.services.reports import (
    SHEETS_NAMESPACE,
    amount_text,
    goal_report_make,
    goals_report_due,
)
from tests.goals.report_data import (
    START,
    at,
    day,
    decision_make,
    goal_make,
    reading,
    revision_make,
    run_make,
)

pytestmark = pytest.mark.django_db


def _busy_goal() -> Goal:
    """Two days of a one-week ¥2,000,000 goal: readings, runs, a revision, decisions."""
    goal = goal_make()
    reading(day(1), 300_000, source="whop")
    # The webhook saw part of the same day's sales: the day's largest reading counts.
    reading(day(1), 250_000, source="whop_webhook")
    reading(day(2), 400_000, source="manual")
    reading(
        day(2), 999_999, source="sheets", currency="USD"
    )  # another currency: not this goal's money
    run_make(goal, on=day(1), action="cold-outreach", status=GoalRun.Status.SUCCEEDED)
    run_make(goal, on=day(2), action="cold-outreach", status=GoalRun.Status.SUCCEEDED)
    run_make(goal, on=day(2), action="trial-onboarding", status=GoalRun.Status.FAILED)
    run_make(goal, on=day(2), action="trial-onboarding", attempt=2, status=GoalRun.Status.PENDING)
    revision_make(goal, number=2, on=day(2), reason=PlanRevision.Reason.ADJUSTMENT)
    revision_make(goal, number=3, on=day(3), reason=PlanRevision.Reason.REPLAN)
    decision_make(goal, asked=at(day(1)), decided=at(day(2), 8), n=1)
    decision_make(goal, asked=at(day(2)), n=2)
    return goal


def test_it_computes_the_daily_figures_from_readings_runs_decisions_and_revisions():
    goal = _busy_goal()
    report = goal_report_make(
        goal_id=goal.pk, kind=GoalReport.Kind.DAILY, period_end=day(2), now=at(day(3))
    )
    f = report.figures
    assert (report.period_start, report.period_end) == (day(2), day(2))
    assert f["target"] == 2_000_000 and f["deadline"] == "2026-12-07"
    assert f["achieved"] == 700_000
    assert f["period_achieved"] == 400_000
    assert f["progress_pct"] == "35.0"
    assert f["run_rate"] == "350000.00"
    # 1,300,000 still to make over the 5 days left.
    assert f["required_daily"] == 260_000
    assert f["forecast"] == {
        "projected": 700_000 + 350_000 * 5,
        "band_low": None,
        "band_high": None,
        "completion_date": "2026-12-06",
        "trend": Trend.NOT_ENOUGH_DATA,
    }
    # Only day 2's runs: started counts the ones that did start.
    assert f["runs"] == {"started": 2, "succeeded": 1, "failed": 1}
    assert f["decisions"] == {"asked": 1, "answered": 1}
    assert f["adjustments"] == [
        {"number": 2, "reason": "adjustment", "author": "fallback", "approved": False}
    ]
    assert f["headline"] == (
        "¥700,000 of ¥2,000,000 (35%) — not enough data for a trend yet, forecast ¥2.5M by 12/7"
    )


def test_a_final_report_covers_the_whole_period():
    goal = _busy_goal()
    report = goal_report_make(
        goal_id=goal.pk, kind=GoalReport.Kind.FINAL, period_end=day(7), now=at(day(8))
    )
    assert report.period_start == START
    assert report.figures["runs"] == {"started": 3, "succeeded": 2, "failed": 1}
    assert report.figures["decisions"] == {"asked": 2, "answered": 1}
    assert [a["number"] for a in report.figures["adjustments"]] == [2, 3]


def test_a_week_of_readings_gives_a_trend_and_a_band():
    goal = goal_make(days=14, target=1_400_000)
    for n, value in enumerate([90_000, 110_000, 100_000, 95_000, 105_000, 100_000, 100_000], 1):
        reading(day(n), value)
    report = goal_report_make(
        goal_id=goal.pk, kind=GoalReport.Kind.WEEKLY, period_end=day(7), now=at(day(8))
    )
    forecast = report.figures["forecast"]
    assert (report.period_start, report.period_end) == (day(1), day(7))
    assert forecast["projected"] == 1_400_000
    assert forecast["trend"] == Trend.ON_TRACK
    assert forecast["band_low"] < 1_400_000 < forecast["band_high"]
    assert "on track, forecast ¥1.4M by 12/14" in report.figures["headline"]


def test_asking_twice_returns_the_first_report_and_queues_nothing_more():
    goal = _busy_goal()
    first = goal_report_make(
        goal_id=goal.pk, kind=GoalReport.Kind.DAILY, period_end=day(2), now=at(day(3))
    )
    rows = SheetRow.objects.count()
    reading(day(2), 900_000, source="whop")  # a later correction does not rewrite it
    again = goal_report_make(
        goal_id=goal.pk, kind=GoalReport.Kind.DAILY, period_end=day(2), now=at(day(3), 10)
    )
    assert again.pk == first.pk and again.figures["achieved"] == 700_000
    assert GoalReport.objects.count() == 1
    assert SheetRow.objects.count() == rows
    assert AuditEvent.objects.filter(action="goals.report_made").count() == 1


def test_a_goal_has_one_final_report_whatever_its_period_end():
    goal = goal_make(status=Goal.Status.ACHIEVED)
    first = goal_report_make(goal_id=goal.pk, kind="final", period_end=day(3), now=at(day(4)))
    later = goal_report_make(goal_id=goal.pk, kind="final", period_end=day(5), now=at(day(6)))
    assert later.pk == first.pk and later.period_end == day(3)


def test_it_refuses_an_unknown_kind_or_a_day_outside_the_goal_and_writes_nothing():
    goal = goal_make()
    with pytest.raises(ValueError, match="unknown report kind 'monthly'"):
        goal_report_make(goal_id=goal.pk, kind="monthly", period_end=day(2), now=at(day(3)))
    with pytest.raises(ValueError, match=r"outside goal #\d+.s period 2026-12-01\.\.2026-12-07"):
        goal_report_make(goal_id=goal.pk, kind="daily", period_end=day(9), now=at(day(10)))
    assert not GoalReport.objects.exists() and not SheetRow.objects.exists()


def test_it_audits_the_report_in_its_transaction():
    goal = _busy_goal()
    report = goal_report_make(goal_id=goal.pk, kind="daily", period_end=day(2), now=at(day(3)))
    event = AuditEvent.objects.get(action="goals.report_made")
    assert event.subject_id == str(goal.pk)
    assert event.data["report"] == report.pk and event.data["progress_pct"] == "35.0"


def _values(row: SheetRow) -> dict[str, object]:
    return dict(zip(SHEET_TABS[row.tab], row.values, strict=True))


def test_sheets_rows_carry_the_report_with_deterministic_uuids():
    goal = _busy_goal()
    report = goal_report_make(goal_id=goal.pk, kind="daily", period_end=day(2), now=at(day(3)))
    tracker = SheetRow.objects.get(tab=GOALS_TRACKER)
    assert tracker.uuid == uuid.uuid5(SHEETS_NAMESPACE, f"goals_tracker:{goal.pk}:daily:{day(2)}")
    values = _values(tracker)
    assert values["row_uuid"] == str(tracker.uuid)
    assert values["goal_id"] == goal.pk and values["goal"] == "1週間で200万作りたい"
    assert values["target_amount"] == "2000000" and values["currency"] == "JPY"
    assert values["deadline"] == "2026-12-07"
    assert values["achieved_amount"] == "700000" and values["progress_pct"] == "35.0"
    assert values["status"] == "active" and values["forecast"] == "2450000"

    metrics = sorted(
        (_values(row) for row in SheetRow.objects.filter(tab=PERFORMANCE_METRICS)),
        key=lambda v: str(v["period_start"]),
    )
    assert [
        (v["period_start"], v["metric"], v["value"], v["source"], v["run_rate"]) for v in metrics
    ] == [
        ("2026-12-01", "revenue", "300000", "whop", "350000.00"),
        ("2026-12-02", "revenue", "400000", "manual", "350000.00"),
    ]
    assert {row.uuid for row in SheetRow.objects.filter(tab=PERFORMANCE_METRICS)} == {
        uuid.uuid5(SHEETS_NAMESPACE, f"performance_metrics:{goal.pk}:revenue:{d}")
        for d in (day(1), day(2))
    }
    assert report.pk


def test_a_later_report_adds_only_the_days_not_yet_in_the_sheet():
    goal = _busy_goal()
    goal_report_make(goal_id=goal.pk, kind="daily", period_end=day(2), now=at(day(3)))
    reading(day(3), 500_000)
    goal_report_make(goal_id=goal.pk, kind="daily", period_end=day(3), now=at(day(4)))
    days = sorted(
        _values(row)["period_start"] for row in SheetRow.objects.filter(tab=PERFORMANCE_METRICS)
    )
    assert days == ["2026-12-01", "2026-12-02", "2026-12-03"]
    assert SheetRow.objects.filter(tab=GOALS_TRACKER).count() == 2


def test_amounts_read_per_currency():
    assert amount_text(1_234_567, currency="JPY", metric="revenue") == "¥1,234,567"
    assert amount_text(123_450, currency="USD", metric="revenue") == "$1,234.50"
    assert amount_text(2_100_000, currency="JPY", metric="revenue", compact=True) == "¥2.1M"
    assert amount_text(850_000, currency="JPY", metric="revenue", compact=True) == "¥850K"
    assert amount_text(999, currency="JPY", metric="revenue", compact=True) == "¥999"
    assert amount_text(1_234, currency="JPY", metric="customers") == "1,234 people"


# --- the tick --------------------------------------------------------------------------


def test_two_ticks_make_one_daily_report_and_one_set_of_rows():
    goal = _busy_goal()
    with time_machine.travel(at(day(3), 1), tick=False):
        first = goals_report_due()
        rows = SheetRow.objects.count()
        second = goals_report_due()
    [report] = GoalReport.objects.filter(goal=goal)
    assert (report.kind, report.period_end) == ("daily", day(2))
    assert first.made == [report.pk] and second.made == []
    assert SheetRow.objects.count() == rows
    # Nobody with an address in this test: kept, not mailed (test_report_mail.py mails).
    assert len(mail.outbox) == 0 and report.emailed_at is None


def test_no_report_before_a_goal_has_a_whole_day_nor_for_goals_not_running():
    goal_make()
    goal_make(status=Goal.Status.PLANNED)
    goal_make(status=Goal.Status.CANCELLED)
    with time_machine.travel(at(START, 23), tick=False):
        assert goals_report_due().made == []
    assert not GoalReport.objects.exists()


def test_weekly_reports_come_on_every_seventh_day_of_the_goal():
    goal = goal_make(days=15)
    made: list[tuple[str, dt.date, dt.date]] = []
    for n in range(2, 18):  # the mornings after each day, and two days past the end
        with time_machine.travel(at(day(n), 1), tick=False):
            goals_report_due()
    made = sorted(
        (r.kind, r.period_start, r.period_end) for r in GoalReport.objects.filter(goal=goal)
    )
    weekly = [(s, e) for kind, s, e in made if kind == "weekly"]
    assert weekly == [(day(1), day(7)), (day(8), day(14))]
    assert [e for kind, _, e in made if kind == "daily"] == [day(n) for n in range(1, 16)]


@pytest.mark.parametrize("status", [Goal.Status.ACHIEVED, Goal.Status.MISSED])
def test_a_closed_goal_gets_one_final_report(status):
    goal = goal_make(status=status)
    reading(day(1), 2_100_000)
    with time_machine.travel(at(day(9), 1), tick=False):
        assert len(goals_report_due().made) == 1
    with time_machine.travel(at(day(10), 1), tick=False):
        assert goals_report_due().made == []
    [report] = GoalReport.objects.filter(goal=goal)
    assert (report.kind, report.period_start, report.period_end) == ("final", day(1), day(7))
    assert report.figures["status"] == status
    assert report.figures["achieved"] == 2_100_000
    # An outcome, not a forecast.
    assert report.figures["headline"] == f"¥2,100,000 of ¥2,000,000 (105%) — goal {status}"


def test_a_goal_reached_early_reports_up_to_yesterday():
    goal = goal_make(status=Goal.Status.ACHIEVED)
    with time_machine.travel(at(day(4), 1), tick=False):
        goals_report_due()
    report = GoalReport.objects.get(goal=goal, kind="final")
    assert report.period_end == day(3)


def test_a_tick_is_bounded():
    for _ in range(3):
        goal_make()
    with time_machine.travel(at(day(2), 1), tick=False):
        assert len(goals_report_due(limit=2).made) == 2
        assert len(goals_report_due(limit=2).made) == 1


def test_the_schedule_runs_the_report_tick():
    from django.utils.module_loading import import_string

    from goals.services.schedules import SCHEDULES

    path, minutes = SCHEDULES["goals.reports"]
    goal = goal_make()
    with time_machine.travel(at(day(2), 1), tick=False):
        summary = import_string(path)()
    assert minutes == 60
    assert summary.startswith("reports made 1,")
    assert GoalReport.objects.filter(goal=goal, kind="daily", period_end=day(1)).exists()
