"""The ideas changelist as a reviewer reads it: each title with its one-line summary,
score badges (a person's correction marked), why an unscored idea has no scores, and
**review** / **archive** buttons on every row.

The buttons POST (with the CSRF token) to two small admin views that call the existing
services, ``idea_mark_reviewed`` and ``idea_archive``; the services check permissions
again and write the audit rows. Columns read only the page's rows and one prefetch of
their refusals, so the list keeps its fixed query count at 100,000 ideas.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.http import require_POST

from ideas.models import SCORE_FIELDS, Idea
from ideas.services import idea_archive, idea_mark_reviewed

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin

_ = gettext_lazy

SCORE_LABELS = {
    "brand_fit": _("brand fit"),
    "novelty": _("novelty"),
    "feasibility": _("feasibility"),
}
# The statuses each button may move an idea from (the model's TRANSITIONS table decides).
REVIEWABLE = tuple(s for s, to in Idea.TRANSITIONS.items() if Idea.Status.REVIEWED in to)
ARCHIVABLE = tuple(s for s, to in Idea.TRANSITIONS.items() if Idea.Status.ARCHIVED in to)


def idea_title_cell(idea: Idea) -> SafeString:
    """The title in bold with its one-line summary under it."""
    if not idea.summary:
        return format_html("<strong>{}</strong>", idea.title)
    return format_html(
        "<strong>{}</strong><br><small class='idea-summary'>{}</small>", idea.title, idea.summary
    )


def _latest_refusal_reasons(idea: Idea) -> list[str]:
    # ``refusals`` is prefetched newest first for the page (one query for all rows).
    refusals = list(idea.refusals.all())
    return [str(r) for r in refusals[0].reasons] if refusals else []


def idea_unscored_reason(idea: Idea) -> str:
    """Why ``idea`` has no scores, in words a reviewer understands."""
    reasons = _latest_refusal_reasons(idea)
    if idea.status == Idea.Status.REFUSED or reasons:
        if reasons:
            return gettext("refused: %(reasons)s") % {"reasons": "; ".join(reasons)}
        return gettext("refused")
    if idea.status == Idea.Status.ARCHIVED:
        return gettext("archived before the critic scored it")
    return gettext("waiting for the critic")


def idea_score_badges(idea: Idea) -> SafeString:
    """One badge per score; a person's correction shows ✎ with the model's score beside it."""
    if all(
        getattr(idea, name) is None and getattr(idea, f"human_{name}") is None
        for name in SCORE_FIELDS
    ):
        return format_html("<span class='idea-unscored'>{}</span>", idea_unscored_reason(idea))
    badges = []
    for name in SCORE_FIELDS:
        model, human = getattr(idea, name), getattr(idea, f"human_{name}")
        label = SCORE_LABELS.get(name, name)
        if human is not None:
            value = f"{human:g} ✎" + (f" ({model:g})" if model is not None else "")
            hint = gettext("corrected by a person")
            badges.append(("idea-badge idea-badge-human", hint, label, value))
        else:
            value = "—" if model is None else f"{model:g}"
            badges.append(("idea-badge", gettext("the critic's score"), label, value))
    return format_html_join(" ", "<span class='{}' title='{}'>{} <b>{}</b></span>", badges)


def idea_row_buttons(idea: Idea, *, may_change: bool) -> SafeString:
    """Review and archive buttons for the row; they submit the page's separate POST form
    (``#idea-row-actions``: a changelist is already one form, and forms cannot nest)."""
    if not may_change:
        return format_html("")
    buttons = []
    if idea.status in REVIEWABLE:
        url = reverse("admin:ideas_idea_review", args=[idea.pk])
        buttons.append((url, "review", gettext("Review")))
    if idea.status in ARCHIVABLE:
        url = reverse("admin:ideas_idea_archive", args=[idea.pk])
        buttons.append((url, "archive", gettext("Archive")))
    return format_html_join(
        " ",
        "<button type='submit' form='idea-row-actions' formaction='{}' "
        "class='button idea-{}'>{}</button>",
        buttons,
    )


def _back(request: HttpRequest) -> HttpResponseRedirect:
    # Back to the list the person was reading (its filters and page), never off-site.
    referer = request.headers.get("referer", "")
    if referer and url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return HttpResponseRedirect(referer)
    return HttpResponseRedirect(reverse("admin:ideas_idea_changelist"))


def _row_action(
    model_admin: ModelAdmin[Idea], request: HttpRequest, idea_id: int, *, archive: bool
) -> HttpResponse:
    idea = get_object_or_404(Idea, pk=idea_id)
    if not model_admin.has_change_permission(request, idea):
        raise PermissionDenied
    service = idea_archive if archive else idea_mark_reviewed
    try:
        changed = service(idea_ids=[idea.pk], user=request.user)
    except PermissionDenied as exc:
        model_admin.message_user(request, str(exc), messages.ERROR)
        return _back(request)
    if changed:
        done = (
            gettext("“%(title)s” archived.") if archive else gettext("“%(title)s” marked reviewed.")
        )
        model_admin.message_user(request, done % {"title": idea.title}, messages.SUCCESS)
    else:
        idea.refresh_from_db(fields=["status"])
        model_admin.message_user(
            request,
            gettext("“%(title)s” was not changed: it is %(status)s.")
            % {"title": idea.title, "status": idea.get_status_display().lower()},
            messages.WARNING,
        )
    return _back(request)


def idea_row_urls(model_admin: ModelAdmin[Idea]) -> list[Any]:
    """The two POST-only row actions, wrapped by the admin site (login, CSRF)."""
    site = model_admin.admin_site

    def review(request: HttpRequest, idea_id: int) -> HttpResponse:
        return _row_action(model_admin, request, idea_id, archive=False)

    def archive(request: HttpRequest, idea_id: int) -> HttpResponse:
        return _row_action(model_admin, request, idea_id, archive=True)

    return [
        path(
            "<int:idea_id>/review/",
            site.admin_view(require_POST(review)),
            name="ideas_idea_review",
        ),
        path(
            "<int:idea_id>/archive/",
            site.admin_view(require_POST(archive)),
            name="ideas_idea_archive",
        ),
    ]


__all__ = [
    "idea_row_buttons",
    "idea_row_urls",
    "idea_score_badges",
    "idea_title_cell",
    "idea_unscored_reason",
]
