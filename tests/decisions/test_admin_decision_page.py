"""The decision's own admin page carries the queue's approve/reject controls, for
approvers only, while the decision is pending; deciding there comes back to it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from decisions.models import AuditEvent, Decision

pytestmark = pytest.mark.django_db


def _page(decision: Decision) -> str:
    return reverse("admin:decisions_decision_change", args=[decision.pk])


def test_an_approver_sees_the_controls_on_a_pending_decision(client, alice, make_decision):
    decision = make_decision()
    client.force_login(alice)
    html = client.get(_page(decision)).content.decode()
    assert 'class="decision-decide"' in html
    assert reverse("admin:decisions_decide", args=[decision.pk]) in html
    assert 'name="verdict" value="approve"' in html and 'name="verdict" value="reject"' in html
    assert f'value="{decision.action_digest}"' in html


def test_a_viewer_without_the_approve_permission_sees_no_controls(client, bob, make_decision):
    decision = make_decision()
    client.force_login(bob)
    page = client.get(_page(decision))
    assert page.status_code == 200
    assert 'class="decision-decide"' not in page.content.decode()


def test_a_decided_decision_shows_no_controls(client, alice, make_decision):
    decision = make_decision()
    client.force_login(alice)
    client.post(
        reverse("admin:decisions_decide", args=[decision.pk]),
        {"verdict": "reject", "return_to": "change"},
    )
    assert 'class="decision-decide"' not in client.get(_page(decision)).content.decode()


def test_deciding_from_the_page_returns_to_it(client, alice, make_decision):
    decision = make_decision()
    client.force_login(alice)
    answer = client.post(
        reverse("admin:decisions_decide", args=[decision.pk]),
        {"verdict": "reject", "comment": "no", "return_to": "change"},
    )
    assert answer.status_code == 302 and answer["Location"] == _page(decision)
    assert Decision.objects.get(pk=decision.pk).status == Decision.Status.REJECTED
    assert AuditEvent.objects.get(action="decisions.decision_rejected").data["via"] == "admin"


def test_a_refusal_on_the_page_returns_to_it_with_the_reason(client, bob, make_decision):
    decision = make_decision()
    client.force_login(bob)
    answer = client.post(
        reverse("admin:decisions_decide", args=[decision.pk]),
        {"verdict": "reject", "return_to": "change"},
        follow=True,
    )
    assert answer.redirect_chain == [(_page(decision), 302)]
    assert "you lack the approve permission" in answer.content.decode()
    assert Decision.objects.get(pk=decision.pk).status == Decision.Status.PENDING


def test_return_to_is_a_choice_never_a_url(client, alice, make_decision):
    decision = make_decision()
    client.force_login(alice)
    answer = client.post(
        reverse("admin:decisions_decide", args=[decision.pk]),
        {"verdict": "reject", "return_to": "https://elsewhere.example/"},
    )
    assert answer["Location"] == reverse("admin:decisions_queue")
