"""``manage.py goal_catalogue install``: import the catalogue's workflows as drafts.

Thin: the service does the work (``catalogue_workflows_install``), this prints one line
per workflow. It acts as the system and never publishes: a person publishes each draft
(and governance asks about the hosts it calls).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils.translation import gettext as _

from bizagent.command_language import staff_language
from goals.services.catalogue import catalogue_workflows_install


class Command(BaseCommand):
    help = "Install the goals catalogue's workflows (trial-onboarding, ...) as drafts."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        actions.add_parser("install", help="Import each catalogue workflow not there yet.")

    @staff_language
    def handle(self, *args: Any, **options: Any) -> None:
        for result in catalogue_workflows_install(actor=None):
            if result.outcome == "created":
                line = _("%(key)s: imported as draft #%(id)s (publish it to use it)") % {
                    "key": result.key,
                    "id": result.workflow_id,
                }
            else:
                line = _("%(key)s: already there (#%(id)s), left alone") % {
                    "key": result.key,
                    "id": result.workflow_id,
                }
            self.stdout.write(line)
