"""Admin bases shared by every app: one definition of "people look, services write".

Rows written only by services (decisions, audit events, iterations, outbox rows) are
read-only in the admin: people look, and act through admin actions that call services.
Django asks ``has_add_permission(request)`` of a ModelAdmin and
``has_add_permission(request, obj)`` of an inline, so ``obj`` is optional here and the
mixins serve both. Put a mixin before ``admin.ModelAdmin`` in the bases.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.translation import gettext


class NoAddAdminMixin:
    """Rows that only services (or a command such as ``newtheme``) create."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class NoDeleteAdminMixin:
    """Rows that are never deleted: archived, deactivated or superseded instead, so the
    history that points at them stays intact."""

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class NoChangeAdminMixin:
    """Rows no service edits once made (replaced or deleted through services instead)."""

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class NoAddDeleteAdminMixin(NoAddAdminMixin, NoDeleteAdminMixin):
    """Service-created rows that people may edit (as the model's permissions allow)."""


class ReadOnlyAdminMixin(NoChangeAdminMixin, NoAddDeleteAdminMixin):
    """Rows written only by services: no add, change or delete for anyone (superusers
    included); viewing follows the model's view permission."""


def permission_refused(
    request: HttpRequest, *, admin: Any, what: str, permission: str
) -> TemplateResponse:
    """A 403 page that says what was refused and which permission would allow it.

    ``admin`` is the ModelAdmin whose page refused (for the site's header and
    breadcrumbs); ``what`` is the refused act in words ("uploading a theme").
    """
    context = {
        **admin.admin_site.each_context(request),
        "opts": admin.opts,
        "title": gettext("Not allowed"),
        "what": what,
        "permission": permission,
    }
    return TemplateResponse(request, "admin/refused.html", context, status=403)
