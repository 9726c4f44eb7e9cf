"""Time-driven transitions: reminders before the due time, expiry at it.

Run every minute by the governance tick (django-q2 schedule). Each reminder and each
expiry is a compare-and-set, so overlapping ticks or a redelivered task do them once.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from decisions.models import Decision
from decisions.services.audit import audit_log
from decisions.services.enqueue import task_enqueue

# Reminders at half time and one hour before the due time; the second is dropped when
# it would come within half an hour of the first (short deadlines).
FINAL_REMINDER_BEFORE = timedelta(hours=1)
MIN_REMINDER_GAP = timedelta(minutes=30)


def reminder_points(decision: Decision) -> list[datetime]:
    """When the reminders of ``decision`` fall due, in order."""
    half = decision.requested_at + (decision.due_at - decision.requested_at) / 2
    points = [half]
    final = decision.due_at - FINAL_REMINDER_BEFORE
    if final - half >= MIN_REMINDER_GAP:
        points.append(final)
    return points


def decision_remind_due(*, now: datetime | None = None) -> list[int]:
    """Send each reminder that has fallen due, exactly once; returns the decision ids."""
    now = now or timezone.now()
    reminded: list[int] = []
    pending = Decision.objects.filter(status=Decision.Status.PENDING, due_at__gt=now).only(
        "pk", "requested_at", "due_at", "reminders_sent"
    )
    # Read them all first: no cursor stays open across the writes (and the mails a
    # synchronous worker sends, which closes the connection when it is done).
    for decision in list(pending):
        points = reminder_points(decision)
        due = [point for point in points if point <= now]
        if len(due) <= decision.reminders_sent:
            continue
        with transaction.atomic():
            # Several points passed at once (the cluster was down): one reminder, and
            # the counter jumps so the missed ones are not sent late in a burst.
            won = Decision.objects.filter(
                pk=decision.pk,
                status=Decision.Status.PENDING,
                reminders_sent=decision.reminders_sent,
            ).update(reminders_sent=len(due), last_reminder_at=now)
            if won != 1:
                continue
            audit_log(
                action="decisions.decision_reminded",
                subject=decision,
                data={"reminder": len(due), "of": len(points), "due_at": decision.due_at},
            )
            transaction.on_commit(
                functools.partial(
                    task_enqueue, "decisions.tasks.decision_notify_task", decision.pk, "reminder"
                )
            )
        reminded.append(decision.pk)
    return reminded


def decision_expire_due(*, now: datetime | None = None) -> list[int]:
    """Expire pending decisions past their due time; the outcome is always to hold."""
    now = now or timezone.now()
    expired: list[int] = []
    for decision in Decision.objects.filter(status=Decision.Status.PENDING, due_at__lte=now):
        with transaction.atomic():
            won = Decision.objects.filter(pk=decision.pk, status=Decision.Status.PENDING).update(
                status=Decision.Status.EXPIRED,
                decided_at=now,
                outcome="Expired without an answer: held, the action was not run.",
            )
            if won != 1:
                continue
            audit_log(
                action="decisions.decision_expired",
                subject=decision,
                data={"due_at": decision.due_at, "on_timeout": decision.on_timeout},
            )
            transaction.on_commit(
                functools.partial(
                    task_enqueue, "decisions.tasks.decision_notify_task", decision.pk, "expired"
                )
            )
        expired.append(decision.pk)
    return expired
