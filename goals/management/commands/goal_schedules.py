"""``manage.py goal_schedules``: create the goals django-q2 schedules."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from goals.services.schedules import goals_schedules_ensure


class Command(BaseCommand):
    help = "Create or correct the goal executor, monitor and reports django-q2 schedules."

    def handle(self, *args: Any, **options: Any) -> None:
        changed = goals_schedules_ensure()
        self.stdout.write(", ".join(changed) + " updated" if changed else "schedules up to date")
