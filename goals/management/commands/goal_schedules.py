"""``manage.py goal_schedules``: create the goals django-q2 schedules."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from bizagent.command_language import staff_language
from goals.services.schedules import goals_schedules_ensure


class Command(BaseCommand):
    help = "Create or correct the goal executor, monitor and reports django-q2 schedules."

    @staff_language
    def handle(self, *args: Any, **options: Any) -> None:
        changed = goals_schedules_ensure()
        self.stdout.write(
            _("%(names)s updated") % {"names": ", ".join(changed)}
            if changed
            else _("schedules up to date")
        )
