"""``manage.py workflow_schedules``: create the engine's django-q2 schedule (catch-up)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from workflows.management.commands._language import StaffCommand
from workflows.services.schedules import workflows_schedules_ensure


class Command(StaffCommand):
    help = "Create or correct the workflow engine's django-q2 schedule (the catch-up sweep)."

    def handle(self, *args: Any, **options: Any) -> None:
        changed = workflows_schedules_ensure()
        self.stdout.write(
            _("%(names)s updated") % {"names": ", ".join(changed)}
            if changed
            else _("schedules up to date")
        )
