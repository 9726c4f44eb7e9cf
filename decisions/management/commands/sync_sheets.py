"""``manage.py sync_sheets``: mirror pending rows to Google Sheets now and report counts."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from decisions.mirror import sheets_sync


class Command(BaseCommand):
    help = (
        "Mirror pending audit and report rows to Google Sheets now (creating missing tabs) "
        "and print how many were mirrored, are pending and failed."
    )

    def handle(self, *args, **options) -> None:
        report = sheets_sync(ensure_tabs=True)
        if report.blocked:
            raise CommandError(
                f"{report.blocked}.\nNothing was mirrored; {report.pending} rows are pending "
                f"and {report.failed} failed. They are kept and mirrored once this is fixed."
            )
        if report.tabs_created:
            self.stdout.write(f"Created tabs: {', '.join(report.tabs_created)}")
        self.stdout.write(
            f"Mirrored {report.mirrored} rows ({report.already_present} were already in the "
            f"sheet). Pending: {report.pending}. Failed: {report.failed}."
        )
        if report.error:
            raise CommandError(
                f"Some rows could not be mirrored: {report.error}\n"
                "Pending rows are retried by the schedule; "
                "failed rows need a resubmit in the admin."
            )
