"""The django-q2 schedules governance needs: the minute tick and the Sheets catch-up."""

from __future__ import annotations

from django.conf import settings

from bizagent.schedules import minute_schedules_ensure

SCHEDULES = {
    "decisions.governance_tick": ("decisions.tasks.governance_tick", lambda: 1),
    "decisions.sheets_sync": (
        "decisions.tasks.sheets_sync_task",
        lambda: settings.SHEETS_SYNC_MINUTES,
    ),
    "decisions.telegram_outbox": ("decisions.tasks.telegram_outbox_task", lambda: 1),
    "decisions.telegram_poll": ("decisions.tasks.telegram_poll_task", lambda: 1),
}


def governance_schedules_ensure() -> list[str]:
    """Create or correct the schedules (idempotent); returns the names created or changed."""
    return minute_schedules_ensure(
        {name: (func, minutes()) for name, (func, minutes) in SCHEDULES.items()}
    )
