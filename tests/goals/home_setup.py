"""What the home page tests put on the page: decisions (on a test action that records
nothing), a goal behind its target, a failed run."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from decisions.actions import ACTIONS, action_register
from decisions.models import Decision, Urgency
from goals.models import Goal, MetricSnapshot
from tests.decisions.factories import DecisionFactory

HOME_ACTION = "tests.home_noop"

if HOME_ACTION not in ACTIONS:

    @action_register(HOME_ACTION)
    def _noop(*, args: dict[str, Any], decision: Any) -> dict[str, Any]:
        return {"done": True}


def decision_pending(*, title: str, urgency: str = Urgency.NORMAL) -> Decision:
    return DecisionFactory(title=title, urgency=urgency, action=HOME_ACTION)


def goal_behind(
    *, text: str = "Reach 1,000,000 JPY of sales this month", readings: bool = True
) -> Goal:
    """Ten days into twenty, 100,000 of 1,000,000 JPY: the run rate reaches 200,000.

    Readings are per day, not per goal: a second goal on the same days takes
    ``readings=False`` and counts the same sales."""
    today = timezone.localdate()
    goal = Goal.objects.create(
        text=text,
        metric="revenue",
        target_amount=1_000_000,
        currency="JPY",
        period_start=today - dt.timedelta(days=10),
        period_end=today + dt.timedelta(days=9),
        status=Goal.Status.ACTIVE,
    )
    if not readings:
        return goal
    MetricSnapshot.objects.bulk_create(
        MetricSnapshot(
            source=MetricSnapshot.Source.MANUAL,
            metric="revenue",
            currency="JPY",
            date=today - dt.timedelta(days=day),
            value=10_000,
        )
        for day in range(1, 11)
    )
    return goal
