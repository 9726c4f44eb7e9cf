"""Running an approved decision's action: once, after commit, only if its digest matches."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from decisions.actions import UnknownAction, action_get
from decisions.models import Decision
from decisions.services.audit import audit_log
from decisions.services.decisions import action_digest

logger = logging.getLogger(__name__)

OUTCOME_MAX_CHARS = 2000


def _fail(decision: Decision, *, reason: str, now: datetime) -> Decision:
    with transaction.atomic():
        Decision.objects.filter(pk=decision.pk, status=Decision.Status.APPROVED).update(
            status=Decision.Status.FAILED, applied_at=now, outcome=reason[:OUTCOME_MAX_CHARS]
        )
        audit_log(
            action="decisions.decision_failed",
            actor=None,
            subject=decision,
            data={"action": decision.action, "reason": reason[:500]},
        )
    logger.warning("decisions: decision %s failed: %s", decision.pk, reason)
    decision.refresh_from_db()
    return decision


def decision_apply(*, decision_id: int, now: datetime | None = None) -> Decision:
    """Run the approved action of ``decision_id`` exactly once.

    ``apply_started_at`` is the claim: a compare-and-set that only one caller wins, so a
    task delivered twice (django-q2 is at-least-once) or the catch-up in the governance
    tick never runs it again. The handler runs in one transaction with the "applied"
    write, so its database changes and the outcome commit together; if it raises,
    nothing it wrote stays and the decision is marked failed with the reason.
    """
    now = now or timezone.now()
    claimed = Decision.objects.filter(
        pk=decision_id, status=Decision.Status.APPROVED, apply_started_at__isnull=True
    ).update(apply_started_at=now)
    decision = Decision.objects.get(pk=decision_id)
    if claimed != 1:
        return decision
    if action_digest(decision.action, decision.action_args) != decision.action_digest:
        return _fail(
            decision,
            reason="Refused: the action's arguments no longer match what was approved.",
            now=now,
        )
    try:
        handler = action_get(decision.action)
    except UnknownAction as exc:
        return _fail(decision, reason=f"Refused: {exc}", now=now)
    try:
        with transaction.atomic():
            result = handler(args=dict(decision.action_args), decision=decision) or {}
            done_at = timezone.now()
            Decision.objects.filter(pk=decision.pk, status=Decision.Status.APPROVED).update(
                status=Decision.Status.APPLIED,
                applied_at=done_at,
                result=result,
                outcome="Applied: the approved action ran.",
            )
            audit_log(
                action="decisions.decision_applied",
                actor=None,
                subject=decision,
                data={"action": decision.action, "result": result},
            )
    except Exception as exc:
        logger.exception("decisions: the action of decision %s raised", decision_id)
        return _fail(decision, reason=f"Failed: {type(exc).__name__}: {exc}", now=timezone.now())
    decision.refresh_from_db()
    return decision


def decision_apply_overdue(
    *, now: datetime | None = None, grace: timedelta = timedelta(minutes=2)
) -> list[int]:
    """Apply approved decisions whose after-commit task never ran (a lost enqueue)."""
    now = now or timezone.now()
    ids = list(
        Decision.objects.filter(
            status=Decision.Status.APPROVED,
            apply_started_at__isnull=True,
            decided_at__lte=now - grace,
        ).values_list("pk", flat=True)[:100]
    )
    for decision_id in ids:
        decision_apply(decision_id=decision_id, now=now)
    return ids
