"""Load a theme from the admin: upload its two files, preview it, activate it.

Thin views over ``ideas.services``: the files are checked by ``theme_uploads_validate``
(the rules ``newtheme`` applies to files on disk, from the same schemas), a valid pair
becomes a draft theme (``theme_draft_create``) that a person reads as a page before
``theme_activate`` switches to it. Invalid files write nothing and every error is shown
at once, under the file it belongs to, its JSON path spelled in words.

Who may do what follows the model permissions: reading a theme needs
``ideas.view_theme``, uploading ``ideas.add_theme``, activating ``ideas.change_theme``.
Pausing the loop around the switch (as ``newtheme`` does) belongs to ``goals``, which
``ideas`` may not import: the studio page pauses it first when a person wants that.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import messages
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.http import require_POST

from bizagent.admin_base import permission_refused
from bizagent.bounded_json import MAX_BYTES
from ideas.models import Theme
from ideas.services import (
    ThemeFilesInvalid,
    ThemeTransitionError,
    theme_activate,
    theme_draft_create,
    theme_switching,
)
from ideas.theme_files import theme_uploads_validate

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin
    from django.urls import URLPattern

_ = gettext_lazy

#: The form field each document's errors belong to, by the label its paths start with.
FIELD_OF_LABEL = {"ip_profile": "ip_profile", "config": "config"}

#: Words for the JSON keys a person meets in an error or on the preview.
KEY_WORDS: dict[str, Any] = {
    "ip_profile": _("IP profile"),
    "config": _("Project config"),
    "name": _("Name"),
    "essence": _("Essence"),
    "visual_motifs": _("Visual motifs"),
    "core_personality": _("Personality and tone"),
    "taboos": _("Taboos"),
    "topic": _("Topic"),
    "keywords": _("Keywords"),
    "target_audience": _("Audience"),
    "brand_promise": _("Brand promise"),
    "canon_examples": _("Canon examples"),
    "title": _("Title"),
    "description": _("Description"),
    "project_name": _("Project name"),
    "goal_type": _("Goal type"),
    "constraints": _("Constraints"),
    "budget": _("Budget"),
    "amount": _("Amount"),
    "currency": _("Currency"),
    "period": _("Period"),
    "legal_limits": _("Legal limits"),
    "banned_external_apis": _("Banned external services"),
    "idea_templates": _("Idea templates"),
    "prompt": _("Prompt"),
    "tags": _("Tags"),
    "iteration_policy": _("Iteration policy"),
    "token_caps": _("Token caps"),
    "explore_ratio": _("Share of work on new directions"),
    "stagnation_threshold": _("Stagnation threshold"),
    "stagnation_window": _("Stagnation window (iterations)"),
    "snapshot_every": _("Snapshot every (iterations)"),
    "meta_review_every": _("Strategy review every (iterations)"),
    "duty_cycle": _("Duty cycle"),
    "daily_token_budget": _("Daily token budget"),
}

_PART = re.compile(r"\.?([^.\[\]]+)|\[(\d+)\]")


def key_words(key: str) -> str:
    """A JSON key as people say it: the known words, else the key with spaces."""
    return str(KEY_WORDS.get(key, key.replace("_", " ").capitalize()))


def path_in_words(where: str) -> str:
    """``config.iteration_policy.explore_ratio`` → "Project config › Iteration policy › …";
    a list index is counted from 1 as people count ("item 2")."""
    words = []
    for match in _PART.finditer(where):
        name, index = match.groups()
        if index is not None:
            words.append(gettext("item %(n)d") % {"n": int(index) + 1})
        else:
            words.append(key_words(name))
    return " › ".join(words)


def error_split(error: str) -> tuple[str, str, str]:
    """(form field, where in words, what is wrong) of one ``ThemeFilesInvalid`` error."""
    where, _sep, message = error.partition(": ")
    field = FIELD_OF_LABEL.get(re.split(r"[.\[]", where, maxsplit=1)[0], "")
    return field, path_in_words(where), message or where


class ThemeUploadForm(forms.Form):
    """The two files ``newtheme`` takes, each bounded as ``newtheme`` bounds them."""

    ip_profile = forms.FileField(
        label=_("IP profile file (JSON)"),
        help_text=_("The brand: essence, tone, taboos, audience."),
    )
    config = forms.FileField(
        label=_("Project config file (JSON)"),
        help_text=_("The project: goal, constraints and budget, iteration policy."),
    )

    def _bounded(self, name: str) -> bytes:
        upload: UploadedFile = self.cleaned_data[name]
        if upload.size is not None and upload.size > MAX_BYTES:
            raise forms.ValidationError(
                gettext("The file is larger than %(max)s bytes.") % {"max": f"{MAX_BYTES:,}"}
            )
        data = upload.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            raise forms.ValidationError(
                gettext("The file is larger than %(max)s bytes.") % {"max": f"{MAX_BYTES:,}"}
            )
        return data

    def clean_ip_profile(self) -> bytes:
        return self._bounded("ip_profile")

    def clean_config(self) -> bytes:
        return self._bounded("config")


def _refused(request: HttpRequest, admin: ModelAdmin, what: str, permission: str) -> HttpResponse:
    return permission_refused(request, admin=admin, what=what, permission=permission)


def _may(request: HttpRequest, permission: str) -> bool:
    return bool(request.user.has_perm(permission))


def theme_upload_view(admin: ModelAdmin, request: HttpRequest) -> HttpResponse:
    """GET: the form. POST: validate both files; a valid pair becomes a draft to preview."""
    if not _may(request, "ideas.add_theme"):
        return _refused(request, admin, gettext("uploading a theme"), "ideas.add_theme")
    form = ThemeUploadForm(request.POST or None, request.FILES or None)
    error_count = 0
    if request.method == "POST" and form.is_valid():
        try:
            ip_profile, config = theme_uploads_validate(
                ip_profile_data=form.cleaned_data["ip_profile"],
                config_data=form.cleaned_data["config"],
            )
            theme = theme_draft_create(ip_profile=ip_profile, config=config, actor=request.user)
        except ThemeFilesInvalid as exc:
            error_count = len(exc.errors)
            for error in exc.errors:
                field, where, message = error_split(error)
                form.add_error(field or None, f"{where}: {message}")
        else:
            return HttpResponseRedirect(reverse("admin:ideas_theme_preview", args=[theme.pk]))
    context = {
        **admin.admin_site.each_context(request),
        "opts": admin.opts,
        "title": gettext("Load a theme from files"),
        "form": form,
        "error_count": error_count,
        "max_bytes": MAX_BYTES,
    }
    return TemplateResponse(request, "admin/ideas/theme/upload.html", context)


def _rows(mapping: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(key_words(key), value) for key, value in mapping.items()]


def theme_preview_view(admin: ModelAdmin, request: HttpRequest, theme_id: int) -> HttpResponse:
    """The theme as a page to read: brand, tone, taboos, audience, constraints, policy."""
    if not _may(request, "ideas.view_theme"):
        return _refused(request, admin, gettext("reading a theme"), "ideas.view_theme")
    theme = get_object_or_404(Theme.objects.select_related("ip_profile"), pk=theme_id)
    policy = theme.iteration_policy
    caps = policy.pop("token_caps", {})
    constraints = theme.constraints
    context = {
        **admin.admin_site.each_context(request),
        "opts": admin.opts,
        "title": theme.name,
        "theme": theme,
        "profile": theme.ip_profile,
        "budget": constraints.get("budget", {}),
        "legal_limits": constraints.get("legal_limits", []),
        "banned": constraints.get("banned_external_apis", []),
        "policy_rows": _rows(policy),
        "token_caps": sorted(caps.items()),
        "can_activate": theme.status == Theme.Status.DRAFT and _may(request, "ideas.change_theme"),
    }
    return TemplateResponse(request, "admin/ideas/theme/preview.html", context)


def theme_activate_view(admin: ModelAdmin, request: HttpRequest, theme_id: int) -> HttpResponse:
    """POST: make the previewed draft the active theme (archiving the one before)."""
    if not _may(request, "ideas.change_theme"):
        return _refused(request, admin, gettext("activating a theme"), "ideas.change_theme")
    theme = get_object_or_404(Theme, pk=theme_id)
    try:
        # A working loop pauses for the switch and resumes after (goals' registered guard).
        with theme_switching():
            theme = theme_activate(theme=theme, actor=request.user)
    except ThemeTransitionError as exc:
        messages.error(request, gettext("The theme was not activated: %(why)s") % {"why": exc})
    else:
        messages.success(
            request, gettext("%(name)s is now the active theme.") % {"name": theme.name}
        )
    return HttpResponseRedirect(reverse("admin:ideas_theme_preview", args=[theme.pk]))


def theme_urls(admin: ModelAdmin) -> list[URLPattern]:
    """The theme pages, for ``ThemeAdmin.get_urls`` (before its catch-all object URL)."""
    wrap = admin.admin_site.admin_view
    return [
        path("upload/", wrap(lambda r: theme_upload_view(admin, r)), name="ideas_theme_upload"),
        path(
            "<int:theme_id>/preview/",
            wrap(lambda r, theme_id: theme_preview_view(admin, r, theme_id)),
            name="ideas_theme_preview",
        ),
        path(
            "<int:theme_id>/activate/",
            wrap(require_POST(lambda r, theme_id: theme_activate_view(admin, r, theme_id))),
            name="ideas_theme_activate",
        ),
    ]
