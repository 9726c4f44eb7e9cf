"""Constructed goals for the report tests: a goal, its readings, runs, revisions and
decisions, each written as the owning services would leave them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import time_machine
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from decisions.models import Decision
from goals.models import Goal, GoalRun, MetricSnapshot, PlanRevision

#: A one-week goal: 1 December .. 7 December 2026 (both included).
START = dt.date(2026, 12, 1)


def at(day: dt.date, hour: int = 9) -> dt.datetime:
    """``hour`` o'clock on ``day`` in the project's time zone."""
    return dt.datetime.combine(day, dt.time(hour), tzinfo=timezone.get_current_timezone())


def day(n: int) -> dt.date:
    """The goal's n-th day (1-based)."""
    return START + dt.timedelta(days=n - 1)


def goal_make(
    *,
    text: str = "1週間で200万作りたい",
    target: int = 2_000_000,
    currency: str = "JPY",
    metric: str = "revenue",
    days: int = 7,
    status: str = Goal.Status.ACTIVE,
    requested_by: User | None = None,
) -> Goal:
    goal = Goal.objects.create(
        text=text,
        metric=metric,
        target_amount=target,
        currency=currency,
        period_start=START,
        period_end=START + dt.timedelta(days=days - 1),
        status=status,
        requested_by=requested_by,
        fields_from={"metric": "rules", "target_amount": "rules", "period": "rules"},
    )
    with time_machine.travel(at(START - dt.timedelta(days=1)), tick=False):
        PlanRevision.objects.create(
            goal=goal, number=1, document={}, approved_at=at(START - dt.timedelta(days=1))
        )
    return goal


def reading(
    on: dt.date, value: int, *, source: str = "manual", metric: str = "revenue", currency="JPY"
) -> MetricSnapshot:
    return MetricSnapshot.objects.create(
        source=source,
        metric=metric,
        date=on,
        value=value,
        currency=currency if metric == "revenue" else "",
    )


def run_make(goal: Goal, *, on: dt.date, action: str, status: str, attempt: int = 1) -> GoalRun:
    started = status in (GoalRun.Status.STARTED, GoalRun.Status.SUCCEEDED, GoalRun.Status.FAILED)
    return GoalRun.objects.create(
        goal=goal,
        revision=goal.revisions.get(number=1),
        action=action,
        day=on,
        attempt=attempt,
        status=status,
        started_at=at(on, 10) if started else None,
    )


def revision_make(goal: Goal, *, number: int, on: dt.date, reason: str, **fields: Any):
    with time_machine.travel(at(on, 12), tick=False):
        return PlanRevision.objects.create(
            goal=goal, number=number, reason=reason, document={}, **fields
        )


def decision_make(
    goal: Goal, *, asked: dt.datetime, decided: dt.datetime | None = None, n: int = 1
) -> Decision:
    return Decision.objects.create(
        kind="strategy_change",
        status=Decision.Status.APPROVED if decided else Decision.Status.PENDING,
        title=f"Raise the outreach volume #{n}",
        situation="Behind plan.",
        action="goals.test",
        action_digest=f"digest-{goal.pk}-{n}",
        subject_type=ContentType.objects.get_for_model(Goal),
        subject_id=str(goal.pk),
        requested_at=asked,
        due_at=asked + dt.timedelta(days=2),
        decided_at=decided,
    )
