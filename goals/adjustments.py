"""Handlers run when a person approves a monitor decision (``decisions.actions``).

Kept apart from ``goals.actions`` (the plan's handlers) so the two parts do not edit one
file. A rejected decision runs nothing: the goal stays on its current plan, and the
pending revision stays unapproved (``plan_current`` never picks it).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from decisions.actions import action_register
from decisions.services.audit import audit_log
from goals.catalogue import catalogue_load
from goals.models import Goal, PlanRevision
from goals.selectors import plan_current
from goals.selectors_progress import goal_forecast
from goals.services.monitor import (
    ADJUST_ACTION,
    ANOMALY_ACTION,
    MAX_REPLANS,
    MonitorError,
    plan_adjusted_document,
    replans_used,
    revision_add,
)

if TYPE_CHECKING:
    from decisions.models import Decision


def adjustment_premise_failure(args: dict[str, Any]) -> str | None:
    """The revision must still be waiting and the goal still active."""
    goal = Goal.objects.filter(pk=int(args["goal_id"])).first()
    if goal is None:
        return "the goal no longer exists"
    if goal.status != Goal.Status.ACTIVE:
        return f"the goal is {goal.status}, not active"
    revision = PlanRevision.objects.filter(goal=goal, number=int(args["revision"])).first()
    if revision is None:
        return f"plan r{args.get('revision')} no longer exists"
    newer = PlanRevision.objects.filter(
        goal=goal, number__gt=revision.number, approved_at__isnull=False
    )
    if newer.exists():
        return f"a newer plan (r{newer.order_by('-number')[0].number}) was approved since"
    return None


# Stamping an approved revision again changes nothing: safe to re-run.
@action_register(ADJUST_ACTION, idempotent=True, premise=adjustment_premise_failure)
def adjustment_approve(*, args: dict[str, Any], decision: Decision) -> dict[str, Any]:
    """Stamp the pending revision approved by the person who decided: the goal runs on it."""
    with transaction.atomic():
        Goal.objects.select_for_update().get(pk=args["goal_id"])
        revision = PlanRevision.objects.select_for_update().get(
            goal_id=args["goal_id"], number=args["revision"]
        )
        if revision.approved_at is None:
            revision.approved_at = decision.decided_at or timezone.now()
            revision.approved_by = decision.decided_by
            revision.save(update_fields=["approved_at", "approved_by"])
            audit_log(
                action="goals.plan_adjustment_approved",
                actor=decision.decided_by,
                subject=revision.goal,
                data={"revision": revision.number, "decision": decision.pk},
            )
    return {"revision": revision.number}


# One revision per decision (looked up by decision_id first): safe to re-run.
@action_register(ANOMALY_ACTION, idempotent=True)
def anomaly_resolve(*, args: dict[str, Any], decision: Decision) -> dict[str, Any]:
    """Acknowledge (nothing changes), pause (a plan with no actions), or re-plan (the
    current volumes re-derived from today's figures), as the person chose."""
    choice = decision.chosen_option
    goal = Goal.objects.get(pk=args["goal_id"])
    if choice == "acknowledge" or goal.status != Goal.Status.ACTIVE:
        return {"choice": choice, "revision": None}
    today = timezone.localdate()
    forecast, _ = goal_forecast(goal=goal, today=today)
    with transaction.atomic():
        goal = Goal.objects.select_for_update().get(pk=args["goal_id"])
        done = PlanRevision.objects.filter(goal=goal, decision_id=decision.pk).first()
        if done is not None:
            return {"choice": choice, "revision": done.number}
        current = plan_current(goal_id=goal.pk)
        if current is None:
            raise MonitorError(f"goal #{goal.pk} has no approved plan")
        if choice == "pause":
            document = {**current.document, "actions": [], "budget_estimate": "0"}
            document["paused"] = {"day": date.isoformat(today), "decision": decision.pk}
            rationale = f"Paused by a person after an anomaly (decision #{decision.pk})."
        else:
            document = plan_adjusted_document(
                goal=goal,
                current=current.document,
                factor=Decimal(1),
                achieved=forecast.achieved,
                today=today,
                catalogue=catalogue_load(),
            )
            rationale = f"Re-planned from today's figures after an anomaly (#{decision.pk})."
        document.pop("monitor", None)
        if replans_used(goal_id=goal.pk) >= MAX_REPLANS:
            raise MonitorError(f"goal #{goal.pk} has had {MAX_REPLANS} re-plans; plan it anew")
        revision = revision_add(
            goal=goal,
            reason=PlanRevision.Reason.REPLAN,
            author=PlanRevision.Author.PERSON,
            document=document,
            rationale=rationale,
            approved_at=decision.decided_at or timezone.now(),
            approved_by=decision.decided_by,
            decision_id=decision.pk,
        )
        audit_log(
            action="goals.plan_replanned",
            actor=decision.decided_by,
            subject=goal,
            data={"revision": revision.number, "choice": choice, "decision": decision.pk},
        )
    return {"choice": choice, "revision": revision.number}
