"""``goal_cancel``: any goal not closed yet is cancelled, guarded by the transitions
table, audited in the same transaction, its pending decisions withdrawn (decided ones
left as they were); a closed goal is refused with a message and nothing written."""

from __future__ import annotations

import pytest

from decisions.models import AuditEvent, Decision
from goals.models import Goal
from goals.services.cancel import GoalCancelError, goal_cancel
from tests.goals.report_data import at, day, decision_make, goal_make

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "status",
    [Goal.Status.DRAFT, Goal.Status.PLANNED, Goal.Status.AWAITING_APPROVAL, Goal.Status.ACTIVE],
)
def test_a_goal_not_closed_is_cancelled_and_audited(status, alice):
    goal = goal_make(status=status)
    cancelled = goal_cancel(goal_id=goal.pk, actor=alice, reason="no longer needed")
    goal.refresh_from_db()
    assert cancelled.status == goal.status == Goal.Status.CANCELLED
    event = AuditEvent.objects.get(action="goals.goal_cancelled")
    assert event.actor == alice
    assert event.data == {
        "from": status,
        "to": "cancelled",
        "reason": "no longer needed",
        "decisions": [],
    }


def test_pending_decisions_are_withdrawn_and_decided_ones_kept(alice):
    goal = goal_make()
    pending = decision_make(goal, asked=at(day(1)), n=1)
    decided = decision_make(goal, asked=at(day(1)), decided=at(day(1), 12), n=2)
    goal_cancel(goal_id=goal.pk, actor=alice)
    pending.refresh_from_db()
    decided.refresh_from_db()
    assert pending.status == Decision.Status.CANCELLED
    assert decided.status == Decision.Status.APPROVED
    assert AuditEvent.objects.get(action="goals.goal_cancelled").data["decisions"] == [pending.pk]


@pytest.mark.parametrize(
    "status", [Goal.Status.ACHIEVED, Goal.Status.MISSED, Goal.Status.CANCELLED]
)
def test_a_closed_goal_is_refused_and_nothing_written(status, alice):
    goal = goal_make(status=status)
    pending = decision_make(goal, asked=at(day(1)), n=1)
    with pytest.raises(GoalCancelError, match=rf"Goal #{goal.pk} is {status}"):
        goal_cancel(goal_id=goal.pk, actor=alice)
    goal.refresh_from_db()
    pending.refresh_from_db()
    assert goal.status == status
    assert pending.status == Decision.Status.PENDING
    assert not AuditEvent.objects.filter(action="goals.goal_cancelled").exists()
