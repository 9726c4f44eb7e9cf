"""``manage.py copilot_docs``: rebuild the copilot's documentation collection.

    copilot_docs                     # sync the copilot-docs collection, print what changed
    copilot_docs --write-catalogue   # also rewrite docs/blocks.md from the block registry

``make run`` runs it after ``migrate``; when nothing changed it only compares checksums.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.utils.translation import gettext as _

from workflows.docs import CATALOGUE_PATH, block_catalogue_markdown
from workflows.management.commands._language import StaffCommand
from workflows.rag.errors import RagInputError
from workflows.services.docs import COPILOT_DOCS_COLLECTION, copilot_docs_rebuild


class Command(StaffCommand):
    help = "Rebuild the copilot-docs collection (README, block catalogue, example workflows)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--write-catalogue",
            action="store_true",
            help=f"also rewrite {CATALOGUE_PATH.name} from the block registry",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["write_catalogue"]:
            text = block_catalogue_markdown()
            if CATALOGUE_PATH.exists() and CATALOGUE_PATH.read_text(encoding="utf-8") == text:
                self.stdout.write(_("unchanged: %(file)s") % {"file": CATALOGUE_PATH.name})
            else:
                CATALOGUE_PATH.write_text(text, encoding="utf-8")
                self.stdout.write(
                    self.style.SUCCESS(_("wrote: %(file)s") % {"file": CATALOGUE_PATH.name})
                )
        try:
            report = copilot_docs_rebuild(actor=None)
        except RagInputError as exc:
            raise CommandError(str(exc)) from exc
        for label, sources in (
            (_("added"), report.added),
            (_("replaced"), report.replaced),
            (_("deleted"), report.deleted),
        ):
            for source in sources:
                self.stdout.write(f"{label}: {source}")
        summary = _(
            "%(collection)s: %(added)s added, %(replaced)s replaced, %(deleted)s deleted, "
            "%(unchanged)s unchanged"
        ) % {
            "collection": COPILOT_DOCS_COLLECTION,
            "added": len(report.added),
            "replaced": len(report.replaced),
            "deleted": len(report.deleted),
            "unchanged": len(report.unchanged),
        }
        self.stdout.write(self.style.SUCCESS(summary) if report.changed else summary)
