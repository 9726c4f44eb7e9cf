"""``manage.py workflow_schedules``: create the engine's django-q2 schedule (catch-up)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from bizagent.command_language import staff_language
from workflows.services.schedules import workflows_schedules_ensure


class Command(BaseCommand):
    help = "Create or correct the workflow engine's django-q2 schedule (the catch-up sweep)."

    @staff_language
    def handle(self, *args: Any, **options: Any) -> None:
        changed = workflows_schedules_ensure()
        self.stdout.write(
            _("%(names)s updated") % {"names": ", ".join(changed)}
            if changed
            else _("schedules up to date")
        )
