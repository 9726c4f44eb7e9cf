"""The decisions list leads with what a person needs: the title and the business summary
(the kind's presenter, as on the decision page and in mails), the urgency, when it is
due in words, and the status."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from decisions.admin import due_words
from decisions.presentation import PRESENTERS, Framing
from decisions.services import decision_reject

pytestmark = pytest.mark.django_db


def _list(client) -> str:
    response = client.get(reverse("admin:decisions_decision_changelist"))
    assert response.status_code == 200
    return response.content.decode()


def test_it_shows_the_business_summary_from_the_kinds_presenter(
    client, alice, make_decision, monkeypatch
):
    monkeypatch.setitem(
        PRESENTERS,
        "tests.record",
        lambda d: Framing(summary=f"Take card payments: about ¥{d.action_args['n']}0,000 a month"),
    )
    make_decision(title="Connect Stripe")
    client.force_login(alice)
    html = _list(client)
    assert (
        "<strong>Connect Stripe</strong><br><small class='decision-summary'>"
        "Take card payments: about ¥10,000 a month</small>"
    ) in html


def test_without_a_presenter_the_situation_is_the_summary(client, alice, make_decision):
    make_decision(title="Connect Stripe", situation="Sales need card payments.")
    client.force_login(alice)
    assert "<small class='decision-summary'>Sales need card payments.</small>" in _list(client)


def test_it_shows_urgency_status_and_due_in_words(client, alice, make_decision):
    now = timezone.now()
    with time_machine.travel(now, tick=False):
        make_decision(title="Soon", urgency="high", due_at=now + dt.timedelta(hours=3))
        decided = make_decision(title="Done")
        decision_reject(decision_id=decided.pk, user=alice)
        client.force_login(alice)
        html = _list(client)
    assert '<td class="field-due_in_words">in 3\xa0hours</td>' in html
    assert '<td class="field-urgency">High</td>' in html
    assert '<td class="field-status">Rejected</td>' in html
    assert '<td class="field-status">Pending</td>' in html


def test_an_overdue_decision_says_by_how_much(make_decision):
    decision = make_decision()
    later = decision.due_at + dt.timedelta(minutes=20)
    assert due_words(decision, now=later) == "overdue by 20\xa0minutes"
