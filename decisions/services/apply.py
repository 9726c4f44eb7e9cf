"""Running an approved decision's action: once, after commit, under a lease, only if its
digest matches and its premise still holds.

The claim is a lease (``apply_lease_owner`` until ``apply_lease_expires_at``), taken by
compare-and-set. A worker that dies mid-action (killed, OOM, machine lost) leaves the
lease to lapse; the governance tick then re-runs the action when it is declared
idempotent, or fails the decision ("interrupted, needs a person") when it is not.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from bizagent.leases import LeaseFields, lease_claim, lease_release
from decisions.actions import UnknownAction, action_premise_failure, action_spec
from decisions.models import Decision
from decisions.services.audit import audit_log
from decisions.services.decisions import action_digest

logger = logging.getLogger(__name__)

OUTCOME_MAX_CHARS = 2000
# An idempotent action interrupted this many times is left to a person after all.
APPLY_MAX_ATTEMPTS = 3
INTERRUPTED = "Interrupted, needs a person"


#: The apply lease's columns on ``Decision`` (``bizagent.leases``).
APPLY_LEASE = LeaseFields(owner="apply_lease_owner", expires_at="apply_lease_expires_at")


def _approved(decision_id: int):
    return Decision.objects.filter(pk=decision_id, status=Decision.Status.APPROVED)


class _LeaseLost(Exception):
    """Our lease lapsed and someone else took the decision over: roll back our writes."""


class _PremiseFailed(Exception):
    pass


def apply_lease_duration() -> timedelta:
    """How long a claim lasts: longer than a django-q2 task may run, plus a margin, so a
    live worker's lease never lapses under it (the task is killed at its timeout)."""
    return timedelta(seconds=settings.Q_TASK_TIMEOUT + 120)


def apply_lease_owner_new() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"[:100]


def _finish_failed(
    decision: Decision, *, owner: str, reason: str, now: datetime, data: dict | None = None
) -> Decision:
    with transaction.atomic():
        won = lease_release(
            _approved(decision.pk),
            owner=owner,
            fields=APPLY_LEASE,
            status=Decision.Status.FAILED,
            applied_at=now,
            outcome=reason[:OUTCOME_MAX_CHARS],
        )
        if won == 1:
            audit_log(
                action="decisions.decision_failed",
                actor=None,
                subject=decision,
                data={"action": decision.action, "reason": reason[:500], **(data or {})},
            )
    if won == 1:
        logger.warning("decisions: decision %s failed: %s", decision.pk, reason)
    decision.refresh_from_db()
    return decision


def _run_claimed(decision_id: int, *, owner: str, now: datetime) -> Decision:
    """Run the action of a decision whose lease ``owner`` holds."""
    decision = Decision.objects.get(pk=decision_id)
    if action_digest(decision.action, decision.action_args) != decision.action_digest:
        return _finish_failed(
            decision,
            owner=owner,
            reason="Refused: the action's arguments no longer match what was approved.",
            now=now,
        )
    try:
        handler = action_spec(decision.action).handler
    except UnknownAction as exc:
        return _finish_failed(decision, owner=owner, reason=f"Refused: {exc}", now=now)
    try:
        with transaction.atomic():
            # Checked in the handler's transaction: the world as the handler sees it.
            premise = action_premise_failure(decision.action, decision.action_args)
            if premise:
                raise _PremiseFailed(premise)
            result = handler(args=dict(decision.action_args), decision=decision) or {}
            done_at = timezone.now()
            won = lease_release(
                _approved(decision.pk),
                owner=owner,
                fields=APPLY_LEASE,
                status=Decision.Status.APPLIED,
                applied_at=done_at,
                result=result,
                outcome="Applied: the approved action ran.",
            )
            if won != 1:
                raise _LeaseLost
            audit_log(
                action="decisions.decision_applied",
                actor=None,
                subject=decision,
                data={"action": decision.action, "result": result},
            )
    except _LeaseLost:
        logger.warning("decisions: lost the lease on decision %s; its run was undone", decision_id)
        decision.refresh_from_db()
        return decision
    except _PremiseFailed as exc:
        return _finish_failed(
            decision,
            owner=owner,
            reason=f"Refused: the decision's premise no longer holds: {exc}",
            now=timezone.now(),
        )
    except Exception as exc:
        logger.exception("decisions: the action of decision %s raised", decision_id)
        return _finish_failed(
            decision, owner=owner, reason=f"Failed: {type(exc).__name__}: {exc}", now=timezone.now()
        )
    decision.refresh_from_db()
    return decision


def decision_apply(
    *, decision_id: int, now: datetime | None = None, owner: str | None = None
) -> Decision:
    """Run the approved action of ``decision_id`` exactly once.

    The claim is a lease taken by compare-and-set on an unclaimed approved decision,
    so a task delivered twice (django-q2 is at least once) or the catch-up in the
    governance tick never runs it again. The handler runs in one transaction with the
    "applied" write, which only the lease's holder can make, so its database changes
    and the outcome commit together; if it raises, nothing it wrote stays and the
    decision is marked failed with the reason.
    """
    now = now or timezone.now()
    owner = owner or apply_lease_owner_new()
    # Only an unclaimed decision: a lapsed lease is ``decision_apply_resume``'s to judge
    # (an action that is not idempotent must not simply run again).
    claimed = lease_claim(
        _approved(decision_id),
        owner=owner,
        now=now,
        duration=apply_lease_duration(),
        fields=APPLY_LEASE,
        take_lapsed=False,
        apply_attempts=F("apply_attempts") + 1,
    )
    if claimed != 1:
        return Decision.objects.get(pk=decision_id)
    return _run_claimed(decision_id, owner=owner, now=now)


def decision_apply_resume(*, decision_id: int, now: datetime | None = None) -> Decision:
    """Take over an approved decision whose apply lease lapsed (its worker died).

    An idempotent action is claimed again and re-run (at most ``APPLY_MAX_ATTEMPTS``
    runs in all); any other ends ``failed``, "interrupted, needs a person", since
    running it twice could do harm. Either way it is audited, and a live lease is
    never taken: the compare-and-set requires the same lapsed lease.
    """
    now = now or timezone.now()
    decision = Decision.objects.get(pk=decision_id)
    lapsed = Decision.objects.filter(
        pk=decision_id,
        status=Decision.Status.APPROVED,
        apply_lease_owner=decision.apply_lease_owner,
        apply_lease_expires_at=decision.apply_lease_expires_at,
        apply_lease_expires_at__lte=now,
    ).exclude(apply_lease_owner="")
    if decision.status != Decision.Status.APPROVED or not lapsed.exists():
        return decision
    try:
        idempotent = action_spec(decision.action).idempotent
    except UnknownAction:
        idempotent = False
    if idempotent and decision.apply_attempts < APPLY_MAX_ATTEMPTS:
        owner = apply_lease_owner_new()
        with transaction.atomic():
            won = lease_claim(
                lapsed,
                owner=owner,
                now=now,
                duration=apply_lease_duration(),
                fields=APPLY_LEASE,
                apply_attempts=F("apply_attempts") + 1,
            )
            if won != 1:
                return Decision.objects.get(pk=decision_id)
            audit_log(
                action="decisions.decision_apply_resumed",
                subject=decision,
                data={
                    "action": decision.action,
                    "lapsed_owner": decision.apply_lease_owner,
                    "lapsed_at": decision.apply_lease_expires_at,
                    "attempt": decision.apply_attempts + 1,
                },
            )
        return _run_claimed(decision_id, owner=owner, now=now)
    why = (
        "its action is not declared idempotent, so it is not run again"
        if not idempotent
        else f"it was interrupted {decision.apply_attempts} times"
    )
    reason = (
        f"{INTERRUPTED}: the worker running the approved action stopped before it "
        f"finished ({why}). Check what it did, then request it again if still wanted."
    )
    with transaction.atomic():
        won = lease_release(
            lapsed,
            owner=decision.apply_lease_owner,
            fields=APPLY_LEASE,
            status=Decision.Status.FAILED,
            applied_at=now,
            outcome=reason,
        )
        if won != 1:
            return Decision.objects.get(pk=decision_id)
        audit_log(
            action="decisions.decision_failed",
            subject=decision,
            data={
                "action": decision.action,
                "reason": reason[:500],
                "interrupted": True,
                "lapsed_owner": decision.apply_lease_owner,
                "attempts": decision.apply_attempts,
            },
        )
    logger.warning("decisions: decision %s failed: %s", decision_id, reason)
    decision.refresh_from_db()
    return decision


def decision_apply_overdue(
    *, now: datetime | None = None, grace: timedelta = timedelta(minutes=2)
) -> list[int]:
    """Catch up on approved decisions: those whose after-commit task never ran (a lost
    enqueue), and those whose apply lease lapsed (the worker died mid-action)."""
    now = now or timezone.now()
    approved = Decision.objects.filter(status=Decision.Status.APPROVED)
    unclaimed = list(
        approved.filter(apply_lease_owner="", decided_at__lte=now - grace).values_list(
            "pk", flat=True
        )[:100]
    )
    lapsed = list(
        approved.exclude(apply_lease_owner="")
        .filter(apply_lease_expires_at__lte=now)
        .values_list("pk", flat=True)[:100]
    )
    for decision_id in unclaimed:
        decision_apply(decision_id=decision_id, now=now)
    for decision_id in lapsed:
        decision_apply_resume(decision_id=decision_id, now=now)
    return unclaimed + lapsed
