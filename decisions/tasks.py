"""django-q2 entry points for governance. Each takes ids, calls one service, and is
idempotent: django-q2 delivers at least once."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django_q.tasks import async_task

logger = logging.getLogger(__name__)


def task_enqueue(func: str, *args: Any) -> None:
    """Queue ``func(*args)`` on django-q2. Called from ``on_commit`` hooks only.

    A broker outage must not undo a committed decision: the failure is logged, and the
    governance tick catches up (expiry, reminders and approved actions are all derived
    from the database, not from the queue).
    """
    try:
        async_task(
            func, *args, q_options={"group": "decisions", "timeout": settings.Q_TASK_TIMEOUT}
        )
    except Exception:
        logger.exception("decisions: could not queue %s%r", func, args)


def decision_notify_task(decision_id: int, event: str) -> int:
    from decisions.notifications import decision_notify

    return decision_notify(decision_id=decision_id, event=event)


def decision_apply_task(decision_id: int) -> str:
    from decisions.services import decision_apply

    return decision_apply(decision_id=decision_id).status


def governance_tick() -> dict[str, list[int]]:
    """Every minute: expire what is due, send due reminders, run lost approvals."""
    from decisions.services import decision_apply_overdue, decision_expire_due, decision_remind_due

    return {
        "expired": decision_expire_due(),
        "reminded": decision_remind_due(),
        "applied": decision_apply_overdue(),
    }
