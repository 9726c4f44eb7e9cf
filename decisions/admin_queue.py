"""The approval queue: the first thing an approver sees.

Pending decisions by urgency and due time, each with its situation, options with
their impact, the recommendation and the time left. Approve or reject in place with
htmx (a CSRF-protected form POST); the decided row is swapped out without a reload.
The views only parse the form and call ``decision_approve`` / ``decision_reject``.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.views.decorators.http import require_POST

from decisions.models import Decision
from decisions.selectors import decision_queue
from decisions.services import APPROVE_PERMISSION, decision_approve, decision_reject


class DecideForm(forms.Form):
    verdict = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    option_key = forms.CharField(required=False, max_length=100)
    comment = forms.CharField(required=False, max_length=5000)
    digest = forms.CharField(required=False, max_length=64)


def _row_context(request: HttpRequest, decision: Decision, **extra) -> dict:
    return {
        "decision": decision,
        "can_approve": request.user.has_perm(APPROVE_PERMISSION),
        **extra,
    }


def queue_view(admin_site: admin.AdminSite, request: HttpRequest) -> TemplateResponse:
    if not request.user.has_perm("decisions.view_decision"):
        raise PermissionDenied
    decisions = list(decision_queue()[:200])
    context = {
        **admin_site.each_context(request),
        "title": "Approval queue",
        "decisions": decisions,
        "can_approve": request.user.has_perm(APPROVE_PERMISSION),
        "partial": request.htmx and request.GET.get("partial") == "1",
    }
    template = (
        "admin/decisions/queue_partial.html" if context["partial"] else "admin/decisions/queue.html"
    )
    return TemplateResponse(request, template, context)


@require_POST
def decide_view(
    admin_site: admin.AdminSite, request: HttpRequest, decision_id: int
) -> HttpResponse:
    decision = get_object_or_404(Decision, pk=decision_id)
    form = DecideForm(request.POST)
    if not form.is_valid():
        return _row_error(request, decision, "The form was incomplete: " + form.errors.as_text())
    data = form.cleaned_data
    try:
        if data["verdict"] == "approve":
            decided = decision_approve(
                decision_id=decision.pk,
                user=request.user,
                option_key=data["option_key"],
                comment=data["comment"],
                digest=data["digest"],
            )
        else:
            decided = decision_reject(
                decision_id=decision.pk, user=request.user, comment=data["comment"]
            )
    except PermissionDenied:
        return _row_error(
            request, decision, "You may not decide: you lack the approve permission.", 403
        )
    except ValidationError as exc:
        decision.refresh_from_db()
        return _row_error(request, decision, " ".join(exc.messages), 409)
    return TemplateResponse(
        request, "admin/decisions/queue_decided.html", _row_context(request, decided)
    )


def _row_error(request: HttpRequest, decision: Decision, message: str, status: int = 400):
    if not request.htmx:
        raise ValidationError(message)
    response = TemplateResponse(
        request,
        "admin/decisions/queue_row.html",
        _row_context(request, decision, error=message),
        status=status,
    )
    # htmx does not swap 4xx responses by default; this one must show its message.
    response["HX-Reswap"] = "outerHTML"
    return response
