"""Create or correct django-q2 minute schedules by name (idempotent).

Each app lists the schedules it needs (name -> task path and interval); this writes
them under a row lock, so two ``make run``s at once do not create a schedule twice, and
an interval changed in settings is corrected on the next start.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.db import transaction
from django_q.models import Schedule


def minute_schedules_ensure(specs: Mapping[str, tuple[str, int]]) -> list[str]:
    """Make each named schedule run ``func`` every ``minutes``; returns the names changed."""
    changed: list[str] = []
    with transaction.atomic():
        for name, (func, minutes) in specs.items():
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
