"""``manage.py goal_catalogue install``: import the catalogue's workflows as drafts.

Thin: the service does the work (``catalogue_workflows_install``), this prints one line
per workflow. It acts as the system and never publishes: a person publishes each draft
(and governance asks about the hosts it calls).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from goals.services.catalogue import catalogue_workflows_install


class Command(BaseCommand):
    help = "Install the goals catalogue's workflows (trial-onboarding, ...) as drafts."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        actions.add_parser("install", help="Import each catalogue workflow not there yet.")

    def handle(self, *args: Any, **options: Any) -> None:
        for result in catalogue_workflows_install(actor=None):
            if result.outcome == "created":
                line = (
                    f"{result.key}: imported as draft #{result.workflow_id} (publish it to use it)"
                )
            else:
                line = f"{result.key}: already there (#{result.workflow_id}), left alone"
            self.stdout.write(line)
