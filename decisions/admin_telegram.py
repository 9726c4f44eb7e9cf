"""Telegram in the admin: each staff member's own linked account and the Link Telegram
page (Governance → Telegram accounts → Link Telegram), and the outbox, read-only."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import path

from bizagent.admin_base import ReadOnlyAdminMixin
from decisions.models import TelegramLink, TelegramMessage
from decisions.notify_views import notify_prefs_page
from decisions.profile_views import profile_page
from decisions.telegram_views import telegram_link_page


@admin.register(TelegramLink)
class TelegramLinkAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Every staff member sees this section (to link their own account) and their own
    row; superusers see everyone's. Linking and unlinking go through the page."""

    list_display = ("user", "telegram_username", "telegram_user_id", "linked_at")
    change_list_template = "admin/decisions/telegramlink/change_list.html"

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_staff)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        if obj is not None and not request.user.is_superuser:
            return obj.user_id == request.user.pk
        return self.has_module_permission(request)

    def get_queryset(self, request: HttpRequest) -> QuerySet[TelegramLink]:
        rows = super().get_queryset(request).select_related("user")
        return rows if request.user.is_superuser else rows.filter(user=request.user)

    def get_urls(self):
        site = self.admin_site
        return [
            path(
                "link/",
                site.admin_view(lambda r: telegram_link_page(r, admin_site=site)),
                name="decisions_telegramlink_link",
            ),
            path(
                "notifications/",
                site.admin_view(lambda r: notify_prefs_page(r, admin_site=site)),
                name="decisions_notify_prefs",
            ),
            path(
                "profile/",
                site.admin_view(lambda r: profile_page(r, admin_site=site)),
                name="decisions_profile",
            ),
            *super().get_urls(),
        ]


@admin.register(TelegramMessage)
class TelegramMessageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "purpose", "chat_id", "status", "attempts", "next_attempt_at", "sent_at")
    list_filter = ("status", "purpose")
    exclude = ("reply_markup",)
