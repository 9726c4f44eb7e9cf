"""API tokens in the admin: create one (its token is shown once, on the page that answers
the form), list them by prefix, revoke them. The token is never stored, so it is shown
in that response only: not through the messages framework, whose storage is the session.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from bizagent.admin_base import NoDeleteAdminMixin
from workflows.errors import WorkflowStateError
from workflows.models import ApiToken
from workflows.services.tokens import api_token_create, api_token_revoke

#: Where ``save_model`` leaves the raw token for ``response_add`` (this request only).
RAW_ATTR = "_api_token_raw"


@admin.register(ApiToken)
class ApiTokenAdmin(NoDeleteAdminMixin, admin.ModelAdmin):
    list_display = (
        "name",
        "user",
        "prefix",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    )
    list_select_related = ("user",)
    list_filter = ("revoked_at",)
    search_fields = ("name", "prefix", "user__username")
    fields = ("user", "name", "expires_at")
    actions = ("revoke_selected",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        # A token is made, used and revoked; never edited.
        if obj is not None:
            return (
                "user",
                "name",
                "prefix",
                "created_at",
                "last_used_at",
                "expires_at",
                "revoked_at",
            )
        return ()

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        if obj is not None:
            return self.get_readonly_fields(request, obj)
        return self.fields

    def save_model(self, request: HttpRequest, obj: ApiToken, form: Any, change: bool) -> None:
        if change:  # nothing is editable; the form never gets here with changes
            return
        token, raw = api_token_create(
            user=obj.user, name=obj.name, expires_at=obj.expires_at, actor=request.user
        )
        # The admin logs the addition against obj: point it at the saved row.
        obj.pk = token.pk
        obj.prefix = token.prefix
        obj.created_at = token.created_at
        setattr(request, RAW_ATTR, raw)

    def response_add(
        self, request: HttpRequest, obj: ApiToken, post_url_continue: Any = None
    ) -> HttpResponse:
        raw = getattr(request, RAW_ATTR, None)
        if raw is None:
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("API token created"),
            "opts": self.opts,
            "token": obj,
            "raw": raw,
        }
        response = TemplateResponse(request, "admin/workflows/apitoken/created.html", context)
        # The page holds a secret: no browser or proxy keeps a copy.
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description=_("Revoke the selected tokens"), permissions=["change"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        revoked = 0
        for token in queryset:
            try:
                api_token_revoke(token_id=token.pk, actor=request.user)
            except WorkflowStateError as exc:
                self.message_user(request, str(exc), messages.WARNING)
            else:
                revoked += 1
        if revoked:
            self.message_user(
                request,
                ngettext("Revoked %(count)s token.", "Revoked %(count)s tokens.", revoked)
                % {"count": revoked},
                messages.SUCCESS,
            )
