"""The mailed link: GET changes nothing, POST decides once; a used, expired, altered,
foreign or no-longer-permitted link is refused with a page that says why."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from decisions.models import AuditEvent, Decision, DecisionLink
from decisions.services.links import decision_link_issue, decision_link_token
from tests.concurrency import run_together
from tests.personas import person_create

pytestmark = pytest.mark.django_db(transaction=True)


def _url(decision: Decision, token: str) -> str:
    return reverse("decisions:link", kwargs={"decision_id": decision.pk, "token": token})


@pytest.fixture
def link_for(alice):
    def make(decision: Decision, user: User | None = None) -> tuple[DecisionLink, str]:
        link = decision_link_issue(decision=decision, recipient=user or alice)
        return link, _url(decision, decision_link_token(link=link))

    return make


def test_get_shows_the_decision_and_changes_nothing(client, make_decision, link_for):
    decision = make_decision(model_analysis="SECRET-CHAIN-OF-THOUGHT", title="Connect Stripe")
    link, url = link_for(decision)
    events = AuditEvent.objects.count()
    for _ in range(3):  # a mail scanner, a preview, the person
        page = client.get(url)
        assert page.status_code == 200
    html = page.content.decode()
    assert "Connect Stripe" in html and "Connect it" in html and "Do not connect" in html
    assert "SECRET-CHAIN-OF-THOUGHT" not in html
    assert page["Referrer-Policy"] == "same-origin"
    assert "no-store" in page["Cache-Control"] or "max-age=0" in page["Cache-Control"]
    link.refresh_from_db()
    assert link.used_at is None
    assert Decision.objects.get(pk=decision.pk).status == Decision.Status.PENDING
    assert AuditEvent.objects.count() == events


def test_post_approves_once_as_the_recipient(
    client, alice, make_decision, link_for, q_sync, recorded
):
    decision = make_decision()
    link, url = link_for(decision)
    done = client.post(url, {"action": "approve", "option_key": "approve", "comment": "ok"})
    assert done.status_code == 200
    decision.refresh_from_db()
    assert decision.status == Decision.Status.APPLIED and decision.decided_by == alice
    assert len(recorded) == 1
    link.refresh_from_db()
    assert link.used_at is not None and link.used_action == "approve"
    approved = AuditEvent.objects.get(action="decisions.decision_approved")
    assert approved.actor == alice and approved.data["via"] == "email link"

    again = client.post(url, {"action": "approve", "option_key": "approve"})
    assert again.status_code == 410
    assert "already been used" in again.content.decode()
    assert client.get(url).status_code == 410
    assert len(recorded) == 1
    assert AuditEvent.objects.filter(action="decisions.decision_approved").count() == 1


def test_post_rejects(client, make_decision, link_for, recorded):
    decision = make_decision()
    _, url = link_for(decision)
    assert client.post(url, {"action": "reject", "comment": "no"}).status_code == 200
    decision.refresh_from_db()
    assert decision.status == Decision.Status.REJECTED and decision.comment == "no"
    assert recorded == []


def test_the_form_is_csrf_protected(make_decision, link_for):
    decision = make_decision()
    _, url = link_for(decision)
    browser = Client(enforce_csrf_checks=True)
    assert browser.post(url, {"action": "reject"}).status_code == 403
    page = browser.get(url)
    token = page.cookies["csrftoken"].value
    answered = browser.post(url, {"action": "reject", "csrfmiddlewaretoken": token})
    assert answered.status_code == 200
    assert Decision.objects.get(pk=decision.pk).status == Decision.Status.REJECTED


def test_a_bad_choice_keeps_the_link_usable(client, make_decision, link_for):
    decision = make_decision()
    link, url = link_for(decision)
    bad = client.post(url, {"action": "approve", "option_key": "reject"})
    assert bad.status_code == 400
    assert "means not to proceed: reject instead" in bad.content.decode()
    link.refresh_from_db()
    assert link.used_at is None
    assert client.post(url, {"action": "approve", "option_key": "approve"}).status_code == 200


def test_an_expired_link_is_refused(client, make_decision, link_for, settings):
    settings.DECISION_LINK_MAX_AGE_HOURS = 2
    decision = make_decision()
    _, url = link_for(decision)
    with time_machine.travel(decision.requested_at + timedelta(hours=2, seconds=1)):
        page = client.get(url)
        assert page.status_code == 410
        assert "expired" in page.content.decode()
        assert client.post(url, {"action": "reject"}).status_code == 410
    assert Decision.objects.get(pk=decision.pk).status == Decision.Status.PENDING


def test_a_link_never_outlives_its_decision(make_decision, link_for, settings):
    settings.DECISION_LINK_MAX_AGE_HOURS = 100
    decision = make_decision()
    link, _ = link_for(decision)
    assert link.expires_at == decision.due_at


@pytest.mark.parametrize("damage", ["cut", "flip", "garbage"])
def test_an_altered_link_is_refused(client, make_decision, link_for, damage):
    decision = make_decision()
    _, url = link_for(decision)
    token = url.rstrip("/").rsplit("/", 1)[1]
    broken = {
        "cut": token[:-5],
        "flip": token[:-1] + ("A" if token[-1] != "A" else "B"),
        "garbage": "not-a-token",
    }[damage]
    page = client.post(_url(decision, broken), {"action": "reject"})
    assert page.status_code == 400
    assert "not valid" in page.content.decode()
    assert Decision.objects.get(pk=decision.pk).status == Decision.Status.PENDING


def test_a_link_for_another_decision_is_refused(client, make_decision, link_for):
    mine, other = make_decision(), make_decision()
    _, url = link_for(mine)
    token = url.rstrip("/").rsplit("/", 1)[1]
    page = client.post(_url(other, token), {"action": "reject"})
    assert page.status_code == 400
    assert "different decision" in page.content.decode()
    assert Decision.objects.filter(status=Decision.Status.PENDING).count() == 2


def test_someone_elses_link_is_refused_in_a_signed_in_session(client, bob, make_decision, link_for):
    decision = make_decision()
    _, url = link_for(decision)  # alice's link
    client.force_login(bob)
    page = client.post(url, {"action": "reject"})
    assert page.status_code == 403
    assert "sent to someone else" in page.content.decode()
    assert Decision.objects.get(pk=decision.pk).status == Decision.Status.PENDING


def test_a_recipient_who_lost_the_permission_is_refused(client, alice, make_decision, link_for):
    decision = make_decision()
    _, url = link_for(decision)
    alice.user_permissions.clear()
    page = client.post(url, {"action": "reject"})
    assert page.status_code == 403
    assert "no longer allowed" in page.content.decode()
    assert Decision.objects.get(pk=decision.pk).status == Decision.Status.PENDING


def test_a_decision_taken_elsewhere_closes_the_link(client, alice, make_decision, link_for):
    from decisions.services import decision_reject

    decision = make_decision()
    link, url = link_for(decision)
    decision_reject(decision_id=decision.pk, user=alice, comment="in the admin")
    page = client.get(url)
    assert page.status_code == 410
    assert "no longer waiting" in page.content.decode()
    link.refresh_from_db()
    assert link.used_at is None


@pytest.mark.postgres
def test_one_link_posted_twice_at_once_decides_once(make_decision, link_for, recorded, q_sync):
    decision = make_decision()
    _, url = link_for(decision)

    def click(i: int) -> int:
        return Client().post(url, {"action": "approve", "option_key": "approve"}).status_code

    codes, errors = run_together(click, 3)
    assert not errors, errors
    assert sorted(codes) == [200, 410, 410]
    assert len(recorded) == 1
    assert AuditEvent.objects.filter(action="decisions.decision_approved").count() == 1


@pytest.mark.postgres
def test_the_loser_of_a_race_between_two_links_sees_the_already_decided_page(
    alice, make_decision, link_for, recorded, q_sync
):
    dora = person_create("dora", staff=False, permissions=("decisions.approve_decision",))
    decision = make_decision()
    alices, alice_url = link_for(decision, alice)
    doras, dora_url = link_for(decision, dora)
    posts = [
        (alice_url, {"action": "approve", "option_key": "approve"}),
        (dora_url, {"action": "reject", "comment": "no"}),
    ]

    def click(i: int) -> tuple[int, str]:
        url, data = posts[i]
        page = Client().post(url, data)
        return page.status_code, page.content.decode()

    pages, errors = run_together(click, 2)
    assert not errors, errors
    assert sorted(status for status, _ in pages) == [200, 410]
    [loser] = [html for status, html in pages if status == 410]
    assert 'data-refusal="closed"' in loser
    assert "already decided" in loser
    assert "<form" not in loser
    decision.refresh_from_db()
    assert decision.status in (Decision.Status.APPLIED, Decision.Status.REJECTED)
    # The page names the winner's verdict (an approval may still be being applied).
    said = {"approved": "Approved", "rejected": "Rejected"}[
        "rejected" if decision.status == Decision.Status.REJECTED else "approved"
    ]
    shown = "Applied" if said == "Approved" else said
    assert f"is <strong>{said}</strong>" in loser or f"is <strong>{shown}</strong>" in loser
    assert f"decided by {decision.decided_by.get_username()}" in loser
    decided = AuditEvent.objects.filter(
        action__in=["decisions.decision_approved", "decisions.decision_rejected"]
    )
    assert decided.count() == 1
    # Only the winner's link is spent.
    used = [link.pk for link in (alices, doras) if DecisionLink.objects.get(pk=link.pk).used_at]
    assert len(used) == 1
