"""Goal, PlanRevision and MetricSnapshot: the invariants the database keeps, and the
goal's transition table."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from itertools import pairwise

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from goals.models import FieldSource, Goal, Metric, MetricSnapshot, PlanRevision

TODAY = date(2025, 3, 3)
S = Goal.Status


def _goal(**fields) -> Goal:
    values = {
        "text": "1週間で200万作りたい",
        "metric": Metric.REVENUE,
        "target_amount": 2_000_000,
        "currency": "JPY",
        "period_start": TODAY,
        "period_end": TODAY + timedelta(days=6),
        "fields_from": {"target_amount": FieldSource.RULES, "currency": FieldSource.DEFAULT},
    }
    values.update(fields)
    return Goal.objects.create(**values)


def _refused(**fields) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        _goal(**fields)


# --- Goal ---------------------------------------------------------------------------------


def test_a_goal_keeps_what_was_understood(db):
    goal = _goal(requested_by=None)
    goal.full_clean()
    assert goal.status == S.DRAFT
    assert goal.needs_confirmation  # the currency came from a default


def test_a_goal_read_entirely_by_the_rules_needs_no_confirmation(db):
    goal = _goal(fields_from={"target_amount": FieldSource.RULES, "period": FieldSource.PERSON})
    assert not goal.needs_confirmation


@pytest.mark.parametrize("amount", [0, -1])
def test_the_database_refuses_a_target_that_is_not_positive(db, amount):
    _refused(target_amount=amount)


def test_the_database_refuses_a_period_that_ends_before_it_starts(db):
    _refused(period_end=TODAY - timedelta(days=1))


def test_a_one_day_period_is_allowed(db):
    assert _goal(period_end=TODAY).pk


def test_a_growth_goal_needs_its_percent(db):
    _refused(metric=Metric.REVENUE_GROWTH, growth_pct=None)
    assert _goal(metric=Metric.REVENUE_GROWTH, growth_pct=Decimal("20")).pk


def test_a_baseline_window_is_whole_and_ordered(db):
    _refused(baseline_start=TODAY - timedelta(days=30))
    _refused(baseline_start=TODAY, baseline_end=TODAY - timedelta(days=1))
    assert _goal(baseline_start=date(2025, 2, 1), baseline_end=date(2025, 2, 28)).pk


def test_clean_names_an_unknown_currency(db):
    goal = _goal(currency="YEN")
    with pytest.raises(ValidationError) as info:
        goal.full_clean()
    assert "Unknown currency 'YEN'" in info.value.message_dict["currency"][0]


def test_clean_names_a_bad_field_source(db):
    goal = _goal(fields_from={"target_amount": "guessed", "colour": FieldSource.RULES})
    with pytest.raises(ValidationError) as info:
        goal.full_clean()
    message = info.value.message_dict["fields_from"][0]
    assert "colour='rules'" in message
    assert "target_amount='guessed'" in message


# --- the transition table -----------------------------------------------------------------


def test_the_table_lists_every_status_and_only_statuses():
    assert set(Goal.TRANSITIONS) == set(S.values)
    for targets in Goal.TRANSITIONS.values():
        assert set(targets) <= set(S.values)


def test_the_happy_path_is_allowed_step_by_step():
    path = [S.DRAFT, S.PLANNED, S.AWAITING_APPROVAL, S.ACTIVE, S.ACHIEVED]
    for current, new in pairwise(path):
        assert Goal.transition_allowed(current, new), f"{current} → {new}"
    assert Goal.transition_allowed(S.PLANNED, S.ACTIVE)  # within policy: starts at once
    assert Goal.transition_allowed(S.ACTIVE, S.MISSED)


def test_achieved_missed_and_cancelled_are_final():
    for final in (S.ACHIEVED, S.MISSED, S.CANCELLED):
        assert Goal.TRANSITIONS[final] == ()
        assert not any(Goal.transition_allowed(final, other) for other in S.values)


def test_every_open_goal_can_be_cancelled_and_none_returns_to_draft():
    for status in Goal.OPEN_STATUSES:
        assert Goal.transition_allowed(status, S.CANCELLED)
    assert not any(S.DRAFT in targets for targets in Goal.TRANSITIONS.values())


def test_a_goal_cannot_skip_its_plan_or_reopen():
    assert not Goal.transition_allowed(S.DRAFT, S.ACTIVE)
    assert not Goal.transition_allowed(S.DRAFT, S.AWAITING_APPROVAL)
    assert not Goal.transition_allowed(S.ACHIEVED, S.ACTIVE)
    assert not Goal.transition_allowed(S.ACTIVE, S.ACTIVE)


def test_every_status_is_reachable_from_draft():
    seen, frontier = {S.DRAFT.value}, [S.DRAFT.value]
    while frontier:
        for new in Goal.TRANSITIONS[frontier.pop()]:
            if new not in seen:
                seen.add(new)
                frontier.append(new)
    assert seen == set(S.values)


# --- PlanRevision -------------------------------------------------------------------------


def test_revision_numbers_are_unique_per_goal(db):
    goal, other = _goal(), _goal()
    PlanRevision.objects.create(goal=goal, number=1, document={"daily_target": "285715"})
    PlanRevision.objects.create(goal=other, number=1)
    PlanRevision.objects.create(goal=goal, number=2, reason=PlanRevision.Reason.ADJUSTMENT)
    with pytest.raises(IntegrityError), transaction.atomic():
        PlanRevision.objects.create(goal=goal, number=2)
    assert [r.number for r in goal.revisions.all()] == [1, 2]


def test_revisions_start_at_one(db):
    with pytest.raises(IntegrityError), transaction.atomic():
        PlanRevision.objects.create(goal=_goal(), number=0)


def test_an_approver_comes_with_the_time_of_approval(db, alice):
    goal = _goal()
    with pytest.raises(IntegrityError), transaction.atomic():
        PlanRevision.objects.create(goal=goal, number=1, approved_by=alice)
    approved = PlanRevision.objects.create(
        goal=goal, number=1, approved_by=alice, approved_at=timezone.now()
    )
    # The system starting a plan within its mandate: a time and no person.
    system = PlanRevision.objects.create(goal=goal, number=2, approved_at=timezone.now())
    assert approved.approved_by == alice and system.approved_by is None


# --- MetricSnapshot -----------------------------------------------------------------------


def _snapshot(**fields) -> MetricSnapshot:
    values = {
        "source": MetricSnapshot.Source.WHOP,
        "metric": MetricSnapshot.Measure.REVENUE,
        "date": TODAY,
        "value": 120_000,
        "currency": "JPY",
    }
    values.update(fields)
    return MetricSnapshot.objects.create(**values)


def test_one_snapshot_per_source_metric_and_day(db):
    _snapshot()
    with pytest.raises(IntegrityError), transaction.atomic():
        _snapshot(value=130_000)
    assert MetricSnapshot.objects.get().value == 120_000


def test_another_source_metric_or_day_is_another_snapshot(db):
    _snapshot()
    _snapshot(source=MetricSnapshot.Source.MANUAL)
    _snapshot(metric=MetricSnapshot.Measure.CUSTOMERS, value=12, currency="")
    _snapshot(date=TODAY + timedelta(days=1))
    assert MetricSnapshot.objects.count() == 4


def test_revenue_carries_its_currency_and_counts_carry_none(db):
    with pytest.raises(IntegrityError), transaction.atomic():
        _snapshot(currency="")
    with pytest.raises(IntegrityError), transaction.atomic():
        _snapshot(metric=MetricSnapshot.Measure.TRIALS, value=3, currency="JPY")


def test_a_snapshot_metric_matches_the_goal_vocabulary():
    for measure in ("revenue", "customers", "trials"):
        assert measure in Metric.values and measure in MetricSnapshot.Measure.values
    assert Metric.REVENUE_GROWTH not in MetricSnapshot.Measure.values
