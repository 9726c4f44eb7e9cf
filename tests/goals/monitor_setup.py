"""An active goal on an approved first plan, and its daily readings, for the monitor's
tests: 20 days from 2026-03-01, revenue in JPY, one action (cold outreach at 25 sends a
day, under its real cap of 50) so volume changes are easy to read."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from django.utils import timezone

from goals.catalogue import CATALOGUE_DIR, catalogue_load
from goals.models import Goal, MetricSnapshot, PlanRevision
from goals.planning import plan_decompose
from tests.goals.factories import catalogue_rows_seed

START = date(2026, 3, 1)
END = START + timedelta(19)
ARPU = 5000


def goal_active(*, target: int = 10_000_000, per_day: int = 25) -> Goal:
    goal = Goal.objects.create(
        text="20日で売上を伸ばす",
        metric="revenue",
        target_amount=target,
        currency="JPY",
        period_start=START,
        period_end=END,
        status=Goal.Status.ACTIVE,
    )
    cold = next(e for e in catalogue_load(CATALOGUE_DIR) if e.key == "cold_outreach")
    # Migration 0010 seeds the row; a flush by a transaction=True test removes it.
    catalogue_rows_seed()
    document = plan_decompose(
        target=10**12,  # so large that the cap alone sets the volume
        achieved=0,
        start=START,
        end=END,
        today=START,
        arpu=ARPU,
        catalogue=[replace(cold, max_per_day=per_day)],
    ).to_json()
    PlanRevision.objects.create(goal=goal, number=1, document=document, approved_at=timezone.now())
    return goal


def readings(*values: int, source: str = "whop", start: date = START) -> None:
    MetricSnapshot.objects.bulk_create(
        MetricSnapshot(
            source=source,
            metric="revenue",
            date=start + timedelta(n),
            value=value,
            currency="JPY",
        )
        for n, value in enumerate(values)
    )


def day(n: int) -> date:
    """The n-th day of the period (0 is the start)."""
    return START + timedelta(n)
