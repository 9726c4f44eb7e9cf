"""django-q2 entry points for governance. Each takes ids, calls one service, and is
idempotent: django-q2 delivers at least once.

Services queue these by their dotted name (``decisions.services.enqueue``); nothing in
``decisions`` imports this module, so it may import any service at the top.
"""

from __future__ import annotations

from decisions.mirror import sheets_sync
from decisions.services.apply import decision_apply, decision_apply_overdue
from decisions.services.mail import decision_notify
from decisions.services.telegram import (
    telegram_decision_notify,
    telegram_outbox_drain,
    telegram_poll_window,
)
from decisions.services.timing import decision_expire_due, decision_remind_due


def decision_notify_task(decision_id: int, event: str) -> int:
    # Telegram first: it only records outbox rows (idempotent by dedupe key), so an SMTP
    # failure re-raised by the mail below cannot keep the Telegram message from going.
    telegram_decision_notify(decision_id=decision_id, event=event)
    return decision_notify(decision_id=decision_id, event=event)


def decision_apply_task(decision_id: int) -> str:
    return decision_apply(decision_id=decision_id).status


def governance_tick() -> dict[str, list[int]]:
    """Every minute: expire what is due, send due reminders, run lost approvals."""
    return {
        "expired": decision_expire_due(),
        "reminded": decision_remind_due(),
        "applied": decision_apply_overdue(),
    }


def sheets_sync_task() -> str:
    """django-q2 entry point for the Sheets catch-up schedule."""
    return sheets_sync().summary()


def telegram_outbox_task() -> str:
    """Send what is due in the Telegram outbox (queued after each new row, and every
    minute to catch up after an outage). Bounded: passes for under a minute."""
    report = telegram_outbox_drain()
    return f"sent {report.sent}, waiting {report.deferred}, failed {report.failed}"


def telegram_poll_task() -> str:
    """Every minute: long polls for under a minute (a no-op with the webhook)."""
    return "; ".join(telegram_poll_window())
