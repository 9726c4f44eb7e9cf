"""The approval queue in the admin: what an approver sees first, and deciding in place
with htmx (a CSRF-protected POST that returns the row to swap in)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from decisions.models import AuditEvent, Decision
from decisions.services import decision_approve
from tests.personas import person_create

pytestmark = pytest.mark.django_db

QUEUE = reverse("admin:decisions_queue")
HTMX = {"HTTP_HX_REQUEST": "true"}


def decide_url(decision: Decision) -> str:
    return reverse("admin:decisions_decide", args=[decision.pk])


def queue_partial(client: Client) -> str:
    """The queue as the admin index loads it: an htmx GET for the partial."""
    response = client.get(QUEUE, {"partial": "1"}, **HTMX)
    assert response.status_code == 200
    return response.content.decode()


def decide(client: Client, decision: Decision, **form: Any):
    data = {"verdict": "approve", "digest": decision.action_digest, **form}
    return client.post(decide_url(decision), data, **HTMX)


def trail(decision: Decision) -> list[tuple[str, int | None]]:
    return list(
        AuditEvent.objects.for_subject(decision).order_by("id").values_list("action", "actor")
    )


@pytest.fixture
def dora(db) -> User:
    """A second approver, to decide before alice does."""
    return person_create(
        "dora", permissions=("decisions.approve_decision", "decisions.view_decision")
    )


# --- what the approver sees ---------------------------------------------------------


def test_the_admin_index_opens_with_the_queue(client, alice, make_decision):
    client.force_login(alice)
    page = client.get(reverse("admin:index")).content.decode()
    # The index loads the queue's partial first thing, above the app list.
    assert f'hx-get="{QUEUE}?partial=1"' in page
    assert 'hx-trigger="load"' in page
    assert "htmx" in page and ".js" in page  # the htmx script is on the page
    assert page.index('id="approval-queue"') < page.index('id="content-main"')


def test_the_queue_orders_pending_decisions_by_urgency_then_due_time(client, alice, make_decision):
    now = timezone.now()
    low_soon = make_decision(title="low, due soon", urgency="low", due_at=now + timedelta(hours=1))
    normal_late = make_decision(title="normal, due late", due_at=now + timedelta(hours=9))
    critical = make_decision(
        title="critical, due late", urgency="critical", due_at=now + timedelta(hours=20)
    )
    normal_soon = make_decision(title="normal, due soon", due_at=now + timedelta(hours=2))
    decided = make_decision(title="already rejected", urgency="critical")
    decided.status = Decision.Status.REJECTED
    Decision.objects.filter(pk=decided.pk).update(status=Decision.Status.REJECTED)

    client.force_login(alice)
    html = queue_partial(client)
    order = [int(pk) for pk in re.findall(r'data-decision="(\d+)"', html)]
    assert order == [critical.pk, normal_soon.pk, normal_late.pk, low_soon.pk]
    assert "already rejected" not in html
    assert 'Decisions waiting for you (<span id="decision-queue-count">4</span>)' in html
    assert "<html" not in html  # a partial, not a page


def test_each_row_shows_situation_options_impact_recommendation_and_time_left(
    client, alice, make_decision
):
    make_decision(
        title="Send the spring newsletter",
        urgency="high",
        situation="4,000 subscribers; the draft passed review.",
        impact="One mail to every subscriber.",
        due_at=timezone.now() + timedelta(hours=3, minutes=5),
        options=[
            {"key": "send", "label": "Send now", "impact": "4,000 mails", "recommended": True},
            {"key": "reject", "label": "Hold it", "impact": "Nobody hears about spring"},
        ],
    )
    client.force_login(alice)
    html = queue_partial(client)
    assert "Send the spring newsletter" in html
    assert "4,000 subscribers; the draft passed review." in html
    assert "One mail to every subscriber." in html
    assert "urgency <strong>High</strong>" in html
    assert re.search(r"<strong>Send now</strong> <em>\(recommended\)</em>\s*— 4,000 mails", html)
    assert re.search(r"<strong>Hold it</strong>\s*— Nobody hears about spring", html)
    assert re.search(r'value="send" checked', html)  # the recommendation is preselected
    assert not re.search(r'value="reject" checked', html)
    assert re.search(r'class="time-left">3 h 0[45] min left<', html)


def test_a_row_past_its_due_time_says_overdue(client, alice, make_decision):
    import time_machine

    decision = make_decision(due_at=timezone.now() + timedelta(minutes=30))
    client.force_login(alice)
    with time_machine.travel(decision.due_at - timedelta(minutes=12, seconds=30)):
        assert 'class="time-left">12 min left<' in queue_partial(client)
    with time_machine.travel(decision.due_at + timedelta(seconds=1)):
        assert 'class="time-left">overdue<' in queue_partial(client)


def test_an_empty_queue_says_so(client, alice):
    client.force_login(alice)
    assert "Nothing is waiting for a decision." in queue_partial(client)


def test_each_row_is_a_csrf_protected_htmx_form(client, alice, make_decision):
    decision = make_decision()
    client.force_login(alice)
    html = client.get(QUEUE).content.decode()  # the full page, as without JavaScript
    assert f'hx-post="{decide_url(decision)}"' in html
    assert f'hx-target="#decision-{decision.pk}"' in html
    assert 'hx-swap="outerHTML"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert f'name="digest" value="{decision.action_digest}"' in html
    assert 'name="verdict" value="approve"' in html and 'name="verdict" value="reject"' in html


# --- deciding in place ----------------------------------------------------------------


def test_it_approves_in_place_and_the_action_runs_once(
    client, alice, make_decision, q_sync, recorded, django_capture_on_commit_callbacks
):
    decision = make_decision(title="Connect Stripe")
    other = make_decision(title="Still waiting")
    client.force_login(alice)

    with django_capture_on_commit_callbacks(execute=True):
        response = decide(client, decision, option_key="approve", comment="go ahead")

    assert response.status_code == 200
    row = response.content.decode()
    # The decided row replaces the card: same id, no form left in it.
    assert row.lstrip().startswith(f'<li class="decision-done" id="decision-{decision.pk}"')
    assert 'data-decided="approved"' in row
    assert "“Connect Stripe” approved by alice." in row
    assert "<form" not in row
    # The heading's count follows without a reload (an out-of-band swap).
    assert '<span id="decision-queue-count" hx-swap-oob="true">1</span>' in row

    decision.refresh_from_db()
    assert decision.status == Decision.Status.APPLIED
    assert decision.chosen_option == "approve"
    assert decision.comment == "go ahead"
    assert decision.decided_by == alice
    assert recorded == [{"decision": decision.pk, "args": {"n": 1}}]
    assert trail(decision) == [
        ("decisions.decision_requested", None),
        ("decisions.decision_approved", alice.pk),
        ("decisions.decision_applied", None),
    ]
    # A decided row leaves the queue; the other one stays.
    html = queue_partial(client)
    assert "Connect Stripe" not in html and "Still waiting" in html
    assert other.pk in [int(pk) for pk in re.findall(r'data-decision="(\d+)"', html)]


def test_the_approver_may_choose_another_proceeding_option(client, alice, make_decision):
    decision = make_decision(
        options=[
            {"key": "small", "label": "10 ads", "recommended": True},
            {"key": "large", "label": "50 ads"},
            {"key": "reject", "label": "None"},
        ]
    )
    client.force_login(alice)
    assert decide(client, decision, option_key="large").status_code == 200
    decision.refresh_from_db()
    assert (decision.status, decision.chosen_option) == (Decision.Status.APPROVED, "large")


def test_it_rejects_in_place_with_a_comment(
    client, alice, make_decision, q_sync, recorded, django_capture_on_commit_callbacks
):
    decision = make_decision(title="Connect Stripe")
    client.force_login(alice)

    with django_capture_on_commit_callbacks(execute=True):
        response = decide(client, decision, verdict="reject", comment="too risky")

    assert response.status_code == 200
    assert 'data-decided="rejected"' in response.content.decode()
    assert "“Connect Stripe” rejected by alice." in response.content.decode()
    decision.refresh_from_db()
    assert decision.status == Decision.Status.REJECTED
    assert decision.comment == "too risky" and decision.decided_by == alice
    assert recorded == []
    assert trail(decision)[-1] == ("decisions.decision_rejected", alice.pk)
    rejected = AuditEvent.objects.get(action="decisions.decision_rejected")
    assert rejected.data == {"comment": "too risky", "option": "", "via": "admin"}
    assert "Connect Stripe" not in queue_partial(client)


def test_a_post_without_the_csrf_token_is_refused(alice, make_decision):
    decision = make_decision()
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = decide(client, decision)
    assert response.status_code == 403
    decision.refresh_from_db()
    assert decision.status == Decision.Status.PENDING
    assert trail(decision) == [("decisions.decision_requested", None)]


def test_the_rows_csrf_token_is_accepted(alice, make_decision):
    decision = make_decision()
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    html = client.get(QUEUE, {"partial": "1"}, **HTMX).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    response = decide(client, decision, csrfmiddlewaretoken=token)
    assert response.status_code == 200
    decision.refresh_from_db()
    assert decision.status == Decision.Status.APPROVED


def test_deciding_needs_a_post(client, alice, make_decision):
    decision = make_decision()
    client.force_login(alice)
    assert client.get(decide_url(decision), **HTMX).status_code == 405
    assert Decision.objects.get(pk=decision.pk).status == Decision.Status.PENDING


def test_an_unknown_decision_is_not_found(client, alice):
    client.force_login(alice)
    response = client.post(reverse("admin:decisions_decide", args=[999999]), {}, **HTMX)
    assert response.status_code == 404


# --- errors come back as a message in the row, not a 500 ------------------------------


def test_a_decision_decided_by_someone_else_comes_back_as_a_message(
    client, alice, dora, make_decision
):
    decision = make_decision(title="Connect Stripe")
    client.force_login(alice)
    decision_approve(decision_id=decision.pk, user=dora, comment="mine")

    response = decide(client, decision, comment="me too")

    assert response.status_code == 409
    assert response["HX-Reswap"] == "outerHTML"
    row = response.content.decode()
    assert f'id="decision-{decision.pk}"' in row
    assert re.search(r'role="alert">Decision #\d+ is approved, not pending\.<', row)
    assert "<form" not in row  # nothing left to decide
    decision.refresh_from_db()
    assert decision.decided_by == dora and decision.comment == "mine"
    assert [actor for _, actor in trail(decision)] == [None, dora.pk]


def test_a_decision_past_its_due_time_comes_back_as_a_message(client, alice, make_decision):
    past = timezone.now() - timedelta(hours=3)
    decision = make_decision(now=past, due_at=past + timedelta(hours=1))
    client.force_login(alice)
    response = decide(client, decision)
    assert response.status_code == 409
    assert "is past its due time." in response.content.decode()
    assert Decision.objects.get(pk=decision.pk).status == Decision.Status.PENDING


@pytest.mark.parametrize(
    ("option_key", "message"),
    [
        ("nope", "Choose one of the options: approve."),
        ("reject", "Option &#x27;reject&#x27; means not to proceed: reject instead."),
    ],
)
def test_an_invalid_option_comes_back_as_a_message(
    client, alice, make_decision, option_key, message
):
    decision = make_decision()
    client.force_login(alice)
    response = decide(client, decision, option_key=option_key)
    assert response.status_code == 400
    row = response.content.decode()
    assert f'role="alert">{message}<' in row
    assert "<form" in row  # still pending: the approver can choose again
    assert Decision.objects.get(pk=decision.pk).status == Decision.Status.PENDING


def test_a_changed_action_is_refused_with_a_message(client, alice, make_decision):
    decision = make_decision()
    client.force_login(alice)
    response = decide(client, decision, digest="0" * 64)
    assert response.status_code == 400
    assert "The proposed action changed since you opened it" in response.content.decode()
    assert Decision.objects.get(pk=decision.pk).status == Decision.Status.PENDING


def test_an_incomplete_form_comes_back_as_a_message(client, alice, make_decision):
    decision = make_decision()
    client.force_login(alice)
    response = client.post(decide_url(decision), {"verdict": "maybe"}, **HTMX)
    assert response.status_code == 400
    assert "The form was incomplete" in response.content.decode()
    assert Decision.objects.get(pk=decision.pk).status == Decision.Status.PENDING


def test_without_htmx_a_decision_redirects_to_the_queue_with_a_message(
    client, alice, make_decision
):
    decision = make_decision(title="Connect Stripe")
    client.force_login(alice)
    response = client.post(
        decide_url(decision), {"verdict": "reject", "comment": "no"}, follow=True
    )
    assert response.redirect_chain == [(QUEUE, 302)]
    assert "“Connect Stripe” rejected." in response.content.decode()
    assert Decision.objects.get(pk=decision.pk).status == Decision.Status.REJECTED


def test_without_htmx_an_error_is_a_message_on_the_queue_not_a_500(client, alice, make_decision):
    decision = make_decision(title="Connect Stripe")
    client.force_login(alice)
    response = client.post(
        decide_url(decision), {"verdict": "approve", "option_key": "nope"}, follow=True
    )
    assert response.redirect_chain == [(QUEUE, 302)]
    assert "“Connect Stripe”: Choose one of the options: approve." in response.content.decode()
    assert Decision.objects.get(pk=decision.pk).status == Decision.Status.PENDING


# --- who may decide ---------------------------------------------------------------


def test_bob_sees_the_queue_without_decide_buttons(client, bob, make_decision):
    make_decision(title="Connect Stripe")
    client.force_login(bob)
    html = queue_partial(client)
    assert "Connect Stripe" in html
    assert 'name="verdict"' not in html
    assert "You can see this decision but not decide on it." in html


def test_bob_cannot_decide(client, bob, make_decision, recorded):
    decision = make_decision()
    client.force_login(bob)
    for verdict in ("approve", "reject"):
        response = decide(client, decision, verdict=verdict)
        assert response.status_code == 403
        assert "You may not decide: you lack the approve permission." in response.content.decode()
    decision.refresh_from_db()
    assert decision.status == Decision.Status.PENDING and decision.decided_by is None
    assert trail(decision) == [("decisions.decision_requested", None)]
    assert recorded == []


@pytest.mark.parametrize("persona", ["charlie", "anonymous"])
def test_outsiders_are_sent_to_the_login_page(client, charlie, make_decision, persona):
    decision = make_decision()
    if persona == "charlie":
        client.force_login(charlie)
    login = reverse("admin:login")
    for response in (client.get(QUEUE), decide(client, decision)):
        assert response.status_code == 302
        assert response["Location"].startswith(login)
    assert Decision.objects.get(pk=decision.pk).status == Decision.Status.PENDING


def test_staff_without_the_view_permission_get_no_queue(client, make_decision):
    make_decision(title="Connect Stripe")
    staff = person_create("erin")
    client.force_login(staff)
    assert client.get(QUEUE).status_code == 403
    index = client.get(reverse("admin:index")).content.decode()
    assert 'id="approval-queue"' not in index
