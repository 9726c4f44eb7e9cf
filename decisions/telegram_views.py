"""Telegram's webhook, and the staff page that links a Telegram account.

The webhook is used only when ``BIZAGENT_TELEGRAM_WEBHOOK_SECRET`` is set (Telegram
echoes it in ``X-Telegram-Bot-Api-Secret-Token``; compared in constant time). Anything
else gets 403 and changes nothing. The update itself is handled by
``decisions.services.telegram.telegram_update_handle``.
"""

from __future__ import annotations

import hmac
import json

from django.conf import settings
from django.contrib import messages
from django.contrib.admin import AdminSite
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from bizagent.telegram import TelegramError, telegram_client, telegram_enabled
from decisions.models import TelegramLink
from decisions.services.telegram import (
    LINK_TOKEN_TTL,
    telegram_link_token_issue,
    telegram_unlink,
    telegram_update_handle,
)

#: An update is a few kilobytes; anything far larger is not Telegram.
MAX_BODY = 1_000_000


@csrf_exempt
@require_POST
def telegram_webhook(request: HttpRequest) -> HttpResponse:
    secret = settings.TELEGRAM_WEBHOOK_SECRET or ""
    given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
    if not secret or not hmac.compare_digest(given.encode(), secret.encode()):
        return HttpResponseForbidden("wrong or missing X-Telegram-Bot-Api-Secret-Token")
    if len(request.body) > MAX_BODY:
        return JsonResponse({"error": "update too large"}, status=413)
    try:
        update = json.loads(request.body)
    except ValueError:
        return JsonResponse({"error": "the body is not JSON"}, status=400)
    if not isinstance(update, dict):
        return JsonResponse({"error": "the update must be a JSON object"}, status=400)
    return JsonResponse({"handled": telegram_update_handle(update=update)})


@never_cache
@require_http_methods(["GET", "POST"])
def telegram_link_page(request: HttpRequest, *, admin_site: AdminSite) -> HttpResponse:
    """The signed-in staff member's own Telegram link (wrapped in ``admin_view``).

    GET shows the state; POST ``link`` makes a fresh one-time t.me link; POST
    ``unlink`` forgets the linked account.
    """
    context: dict = {
        **admin_site.each_context(request),
        "title": _("Link Telegram"),
        "link": TelegramLink.objects.filter(user_id=request.user.pk or 0).first(),
        "enabled": telegram_enabled(),
        "ttl_minutes": int(LINK_TOKEN_TTL.total_seconds() // 60),
    }
    if request.method == "POST" and request.POST.get("action") == "unlink":
        if telegram_unlink(user=request.user):  # type: ignore[arg-type]
            messages.success(request, _("Your Telegram account is unlinked."))
        return redirect("admin:decisions_telegramlink_link")
    if request.method == "POST" and context["enabled"]:
        try:
            bot = telegram_client().get_me()
        except TelegramError as exc:
            context["error"] = _("Telegram cannot be reached: %(error)s") % {"error": exc}
        else:
            token = telegram_link_token_issue(user=request.user)  # type: ignore[arg-type]
            context["start_url"] = f"https://t.me/{bot.username}?start={token}"
            context["bot_username"] = bot.username
    response = render(request, "admin/decisions/telegram_link.html", context)
    # The page holds a one-time token: never cached, never sent to another site in a
    # Referer. "same-origin", not "no-referrer": under no-referrer Chromium posts the
    # page's own form with ``Origin: null`` and Django's CSRF check refuses it.
    response["Referrer-Policy"] = "same-origin"
    return response
