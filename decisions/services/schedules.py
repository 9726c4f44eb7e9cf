"""The django-q2 schedules governance needs: the minute tick and the Sheets catch-up."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django_q.models import Schedule

SCHEDULES = {
    "decisions.governance_tick": ("decisions.tasks.governance_tick", lambda: 1),
    "decisions.sheets_sync": (
        "decisions.tasks.sheets_sync_task",
        lambda: settings.SHEETS_SYNC_MINUTES,
    ),
}


def governance_schedules_ensure() -> list[str]:
    """Create or correct the schedules (idempotent); returns the names created or changed."""
    changed: list[str] = []
    with transaction.atomic():
        for name, (func, minutes) in SCHEDULES.items():
            wanted = {
                "func": func,
                "schedule_type": Schedule.MINUTES,
                "minutes": minutes(),
                "repeats": -1,
            }
            schedule = Schedule.objects.select_for_update().filter(name=name).first()
            if schedule is None:
                Schedule.objects.create(name=name, **wanted)
                changed.append(name)
                continue
            if any(getattr(schedule, key) != value for key, value in wanted.items()):
                for key, value in wanted.items():
                    setattr(schedule, key, value)
                schedule.save()
                changed.append(name)
    return changed
