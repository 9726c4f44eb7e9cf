"""The django-q2 schedule the engine needs: the every-minute catch-up sweep."""

from __future__ import annotations

from django.db import transaction
from django_q.models import Schedule

SCHEDULES = {"workflows.catch_up": ("workflows.tasks.workflows_catch_up_task", 1)}


def workflows_schedules_ensure() -> list[str]:
    """Create or correct the schedules (idempotent); returns the names created or changed."""
    changed: list[str] = []
    with transaction.atomic():
        for name, (func, minutes) in SCHEDULES.items():
            wanted = {
                "func": func,
                "schedule_type": Schedule.MINUTES,
                "minutes": minutes,
                "repeats": -1,
            }
            schedule = Schedule.objects.select_for_update().filter(name=name).first()
            if schedule is None:
                Schedule.objects.create(name=name, **wanted)
                changed.append(name)
            elif any(getattr(schedule, key) != value for key, value in wanted.items()):
                for key, value in wanted.items():
                    setattr(schedule, key, value)
                schedule.save()
                changed.append(name)
    return changed
