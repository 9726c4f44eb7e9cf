"""Admin for the Sheets outbox: read-only rows, counts on top, a resubmit action.

Registered from ``decisions.admin`` (one import line there), so it loads with admin
autodiscovery.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Count, Min
from django.http import HttpRequest
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from bizagent.admin_base import ReadOnlyAdminMixin
from decisions.mirror import sheet_rows_resubmit, sheets_mirroring_blocked_reason
from decisions.models import SheetRow


@admin.register(SheetRow)
class SheetRowAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    # Read-only: deleting an outbox row would silently lose a mirrored event.
    list_display = (
        "uuid",
        "tab",
        "status",
        "attempts",
        "next_attempt_at",
        "short_error",
        "created_at",
        "sent_at",
    )
    list_filter = ("status", "tab")
    search_fields = ("uuid",)
    ordering = ("-id",)
    actions = ["resubmit"]
    readonly_fields = [field.name for field in SheetRow._meta.fields]

    @admin.display(description=_("last error"))
    def short_error(self, obj: SheetRow) -> str:
        return obj.last_error[:120]

    @admin.action(description=_("Resubmit failed rows to Google Sheets"))
    def resubmit(self, request: HttpRequest, queryset) -> None:
        count = sheet_rows_resubmit(row_ids=queryset.values_list("id", flat=True))
        self.message_user(
            request,
            ngettext(
                "%(count)d failed row is pending again.",
                "%(count)d failed rows are pending again.",
                count,
            )
            % {"count": count},
            messages.SUCCESS,
        )

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        counts = dict(
            SheetRow.objects.values_list("status")
            .annotate(n=Count("id"))
            .values_list("status", "n")
        )
        pending = counts.get(SheetRow.Status.PENDING, 0)
        failed = counts.get(SheetRow.Status.FAILED, 0)
        oldest = SheetRow.objects.filter(status=SheetRow.Status.PENDING).aggregate(
            oldest=Min("created_at")
        )["oldest"]
        blocked = sheets_mirroring_blocked_reason()
        if blocked:
            self.message_user(
                request,
                gettext(
                    "%(reason)s. %(pending)d rows are waiting and will be mirrored once it is set."
                )
                % {"reason": blocked, "pending": pending},
                messages.WARNING,
            )
        elif pending:
            text = (
                gettext("%(pending)d rows are waiting to be mirrored (oldest from %(oldest)s).")
                % {"pending": pending, "oldest": f"{oldest:%Y-%m-%d %H:%M}"}
                if oldest
                else gettext("%(pending)d rows are waiting to be mirrored.") % {"pending": pending}
            )
            self.message_user(request, text, messages.INFO)
        if failed:
            self.message_user(
                request,
                gettext(
                    "%(failed)d rows failed: Google rejected them. Fix the cause, then resubmit."
                )
                % {"failed": failed},
                messages.ERROR,
            )
        extra_context = {
            **(extra_context or {}),
            "title": gettext(
                "Sheets mirror: %(pending)d pending, %(failed)d failed, %(sent)d mirrored"
            )
            % {"pending": pending, "failed": failed, "sent": counts.get(SheetRow.Status.SENT, 0)},
        }
        return super().changelist_view(request, extra_context=extra_context)
