"""goals.selectors_monitoring: the design's monitoring figures on constructed data."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from decisions.services import decision_approve, decision_reject
from goals.models import Goal
from goals.selectors_monitoring import goal_monitoring
from goals.services.monitor import goal_adjust, goal_monitor
from tests.goals.monitor_setup import day, goal_active, readings
from tests.personas import persona_create

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


def test_figures_from_goals_decisions_and_adjustments():
    alice = persona_create("alice", app="goals")
    with time_machine.travel(T0, tick=False):
        won = goal_active(target=1_000_000)
        lost = goal_active(target=10_000_000)
        running = goal_active(target=2_060_000)
        Goal.objects.create(  # cancelled: not judged
            text="x",
            metric="revenue",
            target_amount=1,
            currency="JPY",
            period_start=day(0),
            period_end=day(1),
            status=Goal.Status.CANCELLED,
        )
    # The won goal closes on day 2 (2 days after its plan), the lost on day 20.
    readings(600_000, 600_000)
    with time_machine.travel(T0 + dt.timedelta(days=2), tick=False):
        goal_monitor(goal_id=won.pk, today=day(2))
    with time_machine.travel(T0 + dt.timedelta(days=20), tick=False):
        goal_monitor(goal_id=lost.pk, today=day(20))
    # Two decisions on the running goal, decided after 1 h and 3 h.
    with time_machine.travel(T0 + dt.timedelta(days=3), tick=False):
        automatic = goal_adjust(goal_id=running.pk, today=day(3), factor=Decimal("1.04"))
        first = goal_adjust(goal_id=running.pk, today=day(4), factor=Decimal("1.2"))
    decision_reject(
        decision_id=first.decision.pk, user=alice, now=T0 + dt.timedelta(days=3, hours=1)
    )
    with time_machine.travel(T0 + dt.timedelta(days=3), tick=False):
        second = goal_adjust(goal_id=running.pk, today=day(5), factor=Decimal("1.2"))
    decision_approve(
        decision_id=second.decision.pk, user=alice, now=T0 + dt.timedelta(days=3, hours=3)
    )

    figures = goal_monitoring(today=day(8))
    assert (figures.goals_closed, figures.goals_achieved) == (2, 1)
    assert figures.achievement_rate == Decimal("0.500")
    assert figures.execution_time_median == dt.timedelta(days=11)  # median of 2 and 20
    assert figures.decisions_asked == 2
    assert figures.decisions_per_goal == Decimal("0.500")  # 2 over 4 non-draft goals
    assert figures.decision_time_median == dt.timedelta(hours=2)
    # 3 initial plans + 1 automatic adjustment approved without a person; the approved
    # one is stamped only when its action runs, which this test does not run.
    assert (figures.revisions_approved, figures.auto_execution_rate) == (4, Decimal("1.000"))
    [effect] = figures.adjustments
    assert effect.revision == automatic.revision.number and effect.automatic


def test_adjustment_effect_compares_run_rates_before_and_after():
    goal = goal_active(target=2_060_000)
    readings(*[100_000] * 8, *[130_000] * 4)
    goal_monitor(goal_id=goal.pk, today=day(8))  # adjusts at a run rate of 100,000
    [effect] = goal_monitoring(today=day(12)).adjustments
    assert effect.run_rate_before == Decimal("100000.00")
    assert effect.run_rate_after == Decimal("130000.00")
    assert effect.change == Decimal("0.04")
