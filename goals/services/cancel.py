"""Cancelling a goal: a person stops it for good (``Goal.TRANSITIONS`` → cancelled)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from decisions.actors import Actor
from decisions.models import Decision
from decisions.services import decision_cancel
from decisions.services.audit import audit_log
from goals.models import Goal
from goals.selectors_goal_page import goal_decisions_filter


class GoalCancelError(ValueError):
    """The goal cannot be cancelled (already closed or cancelled), with why."""


def goal_cancel(*, goal_id: int, actor: Actor, reason: str = "") -> Goal:
    """Cancel a goal that is not closed yet, and withdraw its pending decisions.

    Guarded by ``Goal.TRANSITIONS`` under a row lock, audited in the same transaction. Its
    pending decisions (a plan or an adjustment waiting for approval, an anomaly) are
    withdrawn with it: approving a plan for a cancelled goal would run nothing, and the
    queue should not ask. The executor and the monitor only act on active goals, so no run
    starts after this commits.
    """
    with transaction.atomic():
        goal = Goal.objects.select_for_update().get(pk=goal_id)
        if not Goal.transition_allowed(goal.status, Goal.Status.CANCELLED):
            raise GoalCancelError(
                gettext(
                    "Goal #%(id)s is %(status)s; only a goal that is not closed can be cancelled."
                )
                % {"id": goal.pk, "status": goal.get_status_display().lower()}
            )
        previous = goal.status
        goal.status = Goal.Status.CANCELLED
        goal.updated_at = timezone.now()
        goal.save(update_fields=["status", "updated_at"])
        pending = Decision.objects.filter(
            goal_decisions_filter(goal=goal, revisions=list(goal.revisions.all())),
            status=Decision.Status.PENDING,
        ).values_list("pk", flat=True)
        withdrawn = []
        for decision_id in list(pending):
            decision_cancel(decision_id=decision_id, reason=f"goal #{goal.pk} was cancelled")
            withdrawn.append(decision_id)
        audit_log(
            action="goals.goal_cancelled",
            actor=actor,
            subject=goal,
            data={"from": previous, "to": goal.status, "reason": reason, "decisions": withdrawn},
        )
    return goal
