"""The page behind a mailed decision link.

GET shows the decision and a form and changes nothing (mail scanners and link
previews open links). POST decides, as the link's recipient, through
``decisions.services.links.decision_link_decide``. The form posts from this same page, so
Django's normal CSRF protection applies: GET sets the cookie, POST carries the token.
No admin login is needed: the signed single-use token identifies the recipient for
this one decision only.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from decisions.selectors import decision_summary
from decisions.services.links import (
    LinkGrant,
    LinkRefused,
    decision_link_check,
    decision_link_decide,
)

REFUSED_STATUS = {"invalid": 400, "wrong_decision": 400, "wrong_user": 403, "not_permitted": 403}


class DecisionLinkForm(forms.Form):
    action = forms.ChoiceField(choices=[("approve", _("Approve")), ("reject", _("Reject"))])
    option_key = forms.CharField(required=False, max_length=100)
    comment = forms.CharField(required=False, max_length=2000, widget=forms.Textarea)

    def __init__(self, *args: Any, option_keys: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.option_keys = option_keys

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        assert data is not None  # Form.clean returns cleaned_data
        approving = data.get("action") == "approve" and self.option_keys
        if approving and data.get("option_key") not in self.option_keys:
            raise ValidationError(_("Choose one of the options to approve."))
        return data


def _secure(response: HttpResponse) -> HttpResponse:
    # The URL holds the token: never send it to another site in a Referer, never index
    # the page. "same-origin", not "no-referrer": under no-referrer a browser posts the
    # page's own form with ``Origin: null``, which Django's CSRF check refuses (403), so
    # the link could not be used in a real browser. Same-origin requests only ever reach
    # this server, whose logs redact the token (``bizagent.weblog``).
    response["Referrer-Policy"] = "same-origin"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _refused(request: HttpRequest, refusal: LinkRefused) -> HttpResponse:
    context = {
        "refusal": refusal,
        "decision": decision_summary(refusal.decision) if refusal.decision else None,
    }
    status = REFUSED_STATUS.get(refusal.code, 410)
    return _secure(render(request, "decisions/link_refused.html", context, status=status))


def _confirm(
    request: HttpRequest, grant: LinkGrant, form: DecisionLinkForm, status: int = 200
) -> HttpResponse:
    context = {
        "decision": decision_summary(grant.decision),
        "recipient": grant.recipient,
        "expires_at": grant.link.expires_at,
        "form": form,
    }
    return _secure(render(request, "decisions/link_confirm.html", context, status=status))


@never_cache
@require_http_methods(["GET", "POST"])
def decision_link(request: HttpRequest, decision_id: int, token: str) -> HttpResponse:
    try:
        grant = decision_link_check(token=token, decision_id=decision_id, user=request.user)
    except LinkRefused as refusal:
        return _refused(request, refusal)
    option_keys = [option["key"] for option in decision_summary(grant.decision)["options"]]
    if request.method == "GET":
        return _confirm(request, grant, DecisionLinkForm(option_keys=option_keys))

    form = DecisionLinkForm(request.POST, option_keys=option_keys)
    if not form.is_valid():
        return _confirm(request, grant, form, status=400)
    try:
        decision = decision_link_decide(
            token=token,
            decision_id=decision_id,
            approve=form.cleaned_data["action"] == "approve",
            option_key=form.cleaned_data["option_key"],
            comment=form.cleaned_data["comment"],
            user=request.user,
        )
    except LinkRefused as refusal:
        return _refused(request, refusal)
    except PermissionDenied:
        return _refused(request, LinkRefused("not_permitted", grant.decision))
    except ValidationError as exc:
        form.add_error(None, exc)
        return _confirm(request, grant, form, status=400)
    context = {"decision": decision_summary(decision), "recipient": grant.recipient}
    return _secure(render(request, "decisions/link_done.html", context))
