"""The signed-in staff member's own notification preferences page (admin user menu →
Notifications): which events reach them by email, on Telegram, both or not at all.
The logic is ``decisions.services.notify_prefs``."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin import AdminSite
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from decisions.models import NotificationPreference, TelegramLink
from decisions.services.notify_prefs import (
    ALLOWED,
    TELEGRAM_CHANNELS,
    notify_prefs_get,
    notify_prefs_update,
)


@never_cache
@require_http_methods(["GET", "POST"])
def notify_prefs_page(request: HttpRequest, *, admin_site: AdminSite) -> HttpResponse:
    """GET shows each event with its channel; POST saves them all (wrapped in
    ``admin_view``: staff only, their own preferences only)."""
    user = request.user
    linked = TelegramLink.objects.filter(user_id=user.pk or 0).exists()
    current = notify_prefs_get(user=user)  # type: ignore[arg-type]
    errors: list[str] = []
    if request.method == "POST":
        choices = {event: request.POST.get(event, current[event]) for event in current}
        try:
            changed = notify_prefs_update(user=user, choices=choices)  # type: ignore[arg-type]
        except ValidationError as exc:
            errors = exc.messages
            current = {**current, **choices}
        else:
            messages.success(
                request,
                _("Your notification preferences are saved.")
                if changed
                else _("Nothing changed: your notification preferences are as they were."),
            )
            return redirect("admin:decisions_notify_prefs")
    rows = [
        {
            "event": event,
            "label": NotificationPreference.Event(event).label,
            "current": current[event],
            "options": [
                {
                    "value": channel,
                    "label": NotificationPreference.Channel(channel).label,
                    # Telegram only for a linked account (the page says why); the
                    # current choice stays selectable so saving keeps it.
                    "disabled": channel in TELEGRAM_CHANNELS
                    and not linked
                    and channel != current[event],
                }
                for channel in ALLOWED[event]
            ],
        }
        for event in NotificationPreference.Event.values
    ]
    context = {
        **admin_site.each_context(request),
        "title": _("Notifications"),
        "rows": rows,
        "linked": linked,
        "errors": errors,
    }
    return render(request, "admin/decisions/notify_prefs.html", context)
