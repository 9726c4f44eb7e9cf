"""``manage.py sync_sheets``: mirror pending rows to Google Sheets now and report counts."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from bizagent.command_language import staff_language
from decisions.mirror import sheets_sync


class Command(BaseCommand):
    help = (
        "Mirror pending audit and report rows to Google Sheets now (creating missing tabs) "
        "and print how many were mirrored, are pending and failed."
    )

    @staff_language
    def handle(self, *args, **options) -> None:
        report = sheets_sync(ensure_tabs=True)
        if report.blocked:
            raise CommandError(
                _(
                    "%(reason)s.\nNothing was mirrored; %(pending)d rows are pending and "
                    "%(failed)d failed. They are kept and mirrored once this is fixed."
                )
                % {"reason": report.blocked, "pending": report.pending, "failed": report.failed}
            )
        if report.tabs_created:
            self.stdout.write(
                _("Created tabs: %(tabs)s") % {"tabs": ", ".join(report.tabs_created)}
            )
        self.stdout.write(
            _(
                "Mirrored %(mirrored)d rows (%(present)d were already in the sheet). "
                "Pending: %(pending)d. Failed: %(failed)d."
            )
            % {
                "mirrored": report.mirrored,
                "present": report.already_present,
                "pending": report.pending,
                "failed": report.failed,
            }
        )
        if report.error:
            raise CommandError(
                _(
                    "Some rows could not be mirrored: %(error)s\n"
                    "Pending rows are retried by the schedule; "
                    "failed rows need a resubmit in the admin."
                )
                % {"error": report.error}
            )
