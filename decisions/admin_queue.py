"""The approval queue: the first thing an approver sees.

Pending decisions by urgency and due time, each with its situation, options with
their impact, the recommendation and the time left. Approve or reject in place with
htmx (a CSRF-protected form POST); the decided row is swapped out without a reload.
The views only parse the form and call ``decision_approve`` / ``decision_reject``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from bizagent.rendering import HtmxHttpRequest
from decisions.charts import decide_chart
from decisions.models import Decision
from decisions.selectors import decision_queue, user_may_decide
from decisions.services import (
    DecisionNotPending,
    decision_approve,
    decision_reject,
)


class DecideForm(forms.Form):
    verdict = forms.ChoiceField(choices=[("approve", _("Approve")), ("reject", _("Reject"))])
    option_key = forms.CharField(required=False, max_length=100)
    comment = forms.CharField(required=False, max_length=5000)
    digest = forms.CharField(required=False, max_length=64)
    # Where a plain (non-htmx) POST returns: a fixed choice, never a URL (no open redirect).
    return_to = forms.ChoiceField(
        choices=[("queue", _("The approval queue")), ("change", _("The decision's page"))],
        required=False,
    )


def _back_url(admin_site: admin.AdminSite, request: HttpRequest, decision: Decision) -> str:
    """Where a plain form POST goes back to: the decision's page when it came from there."""
    if request.POST.get("return_to") == "change":
        return reverse(f"{admin_site.name}:decisions_decision_change", args=[decision.pk])
    return reverse(f"{admin_site.name}:decisions_queue")


def time_left(decision: Decision, now: datetime | None = None) -> str:
    """ "3 h 05 min", "12 min", "overdue" (pending past due: the next tick expires it)."""
    if decision.status != Decision.Status.PENDING:
        return "—"
    seconds = int((decision.due_at - (now or timezone.now())).total_seconds())
    if seconds <= 0:
        return gettext("overdue")
    hours, rest = divmod(seconds, 3600)
    if hours:
        return gettext("%(hours)d h %(minutes)02d min left") % {
            "hours": hours,
            "minutes": rest // 60,
        }
    return gettext("%(minutes)d min left") % {"minutes": max(rest // 60, 1)}


def _row_context(request: HtmxHttpRequest, decision: Decision, **extra: Any) -> dict[str, Any]:
    decision.time_left = time_left(decision)
    return {
        "decision": decision,
        "can_approve": user_may_decide(request.user),
        **extra,
    }


def queue_view(request: HtmxHttpRequest, *, admin_site: admin.AdminSite) -> TemplateResponse:
    if not request.user.has_perm("decisions.view_decision"):
        raise PermissionDenied
    decisions = list(decision_queue()[:200])
    now = timezone.now()
    for decision in decisions:
        decision.time_left = time_left(decision, now)
    context = {
        **admin_site.each_context(request),
        "title": gettext("Approval queue"),
        "decisions": decisions,
        "can_approve": user_may_decide(request.user),
        "partial": request.htmx and request.GET.get("partial") == "1",
    }
    if not context["partial"]:
        # The chart changes by the day, not by the poll: only the whole page draws it.
        context["decide_chart"] = decide_chart()
    template = (
        "admin/decisions/queue_partial.html" if context["partial"] else "admin/decisions/queue.html"
    )
    return TemplateResponse(request, template, context)


# The request comes first: ``require_POST`` reads the method off the first argument.
@require_POST
def decide_view(
    request: HtmxHttpRequest, decision_id: int, *, admin_site: admin.AdminSite
) -> HttpResponse:
    decision = get_object_or_404(Decision, pk=decision_id)
    form = DecideForm(request.POST)
    if not form.is_valid():
        return _row_error(
            admin_site,
            request,
            decision,
            gettext("The form was incomplete: %(errors)s") % {"errors": form.errors.as_text()},
        )
    data = form.cleaned_data
    try:
        if data["verdict"] == "approve":
            decided = decision_approve(
                decision_id=decision.pk,
                user=request.user,
                option_key=data["option_key"],
                comment=data["comment"],
                digest=data["digest"],
                via="admin",
            )
        else:
            decided = decision_reject(
                decision_id=decision.pk, user=request.user, comment=data["comment"], via="admin"
            )
    except PermissionDenied:
        return _row_error(
            admin_site,
            request,
            decision,
            gettext("You may not decide: you lack the approve permission."),
            403,
        )
    except ValidationError as exc:
        # Lost race (someone else decided, or it fell due): 409; a bad choice: 400.
        decision.refresh_from_db()
        status = 409 if isinstance(exc, DecisionNotPending) else 400
        return _row_error(admin_site, request, decision, " ".join(exc.messages), status)
    if not request.htmx:
        messages.success(
            request,
            gettext("“%(title)s” %(status)s.")
            % {"title": decided.title, "status": decided.get_status_display().lower()},
        )
        return HttpResponseRedirect(_back_url(admin_site, request, decided))
    # The count in the queue's heading follows (an out-of-band swap).
    context = _row_context(request, decided, pending_count=decision_queue().count())
    return TemplateResponse(request, "admin/decisions/queue_decided.html", context)


def _row_error(
    admin_site: admin.AdminSite,
    request: HtmxHttpRequest,
    decision: Decision,
    message: str,
    status: int = 400,
) -> HttpResponse:
    if not request.htmx:
        # The plain form POST (no JavaScript): the message on the queue page, not a 500.
        messages.error(
            request,
            gettext("“%(title)s”: %(message)s") % {"title": decision.title, "message": message},
        )
        return HttpResponseRedirect(_back_url(admin_site, request, decision))
    response = TemplateResponse(
        request,
        "admin/decisions/queue_row.html",
        _row_context(request, decision, error=message),
        status=status,
    )
    # htmx does not swap 4xx responses by default, and HX-Reswap alone does not change
    # that; queue_style.html swaps error responses that carry this header.
    response["HX-Reswap"] = "outerHTML"
    return response
