"""``manage.py governance_schedules``: create the django-q2 schedules governance runs on."""

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from bizagent.command_language import staff_language
from decisions.services import governance_schedules_ensure
from decisions.services.schedules import SCHEDULES


class Command(BaseCommand):
    help = "Create or correct the schedules for decision expiry/reminders and the Sheets mirror."

    @staff_language
    def handle(self, *args, **options) -> None:
        changed = governance_schedules_ensure()
        for name in SCHEDULES:
            state = _("created or updated") if name in changed else _("already in place")
            self.stdout.write(f"{name}: {state}")
