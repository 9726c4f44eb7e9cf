"""The governance admin pages: decisions with their audit trail, the model's analysis
kept out of sight, budgets with a spend bar, and the read-only audit log."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from decisions.models import AuditEvent, Budget, Decision
from decisions.services import (
    budget_spend_record,
    decision_approve,
    decision_reject,
)
from tests.decisions.factories import BudgetFactory

pytestmark = pytest.mark.django_db

SECRET = "SECRET-CHAIN-OF-THOUGHT"


def decision_url(view: str, decision: Decision) -> str:
    return reverse(f"admin:decisions_decision_{view}", args=[decision.pk])


def audit_url(view: str, *args: object) -> str:
    return reverse(f"admin:decisions_auditevent_{view}", args=args)


# --- decisions ----------------------------------------------------------------------


def test_a_decisions_change_page_shows_it_and_its_audit_trail(client, alice, bob, make_decision):
    decision = make_decision(title="Connect Stripe", requested_by=bob)
    decision_approve(decision_id=decision.pk, user=alice, comment="fine by me")
    client.force_login(alice)

    response = client.get(decision_url("change", decision))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Connect Stripe" in html
    assert "<li><strong>Connect it</strong> (recommended) — Cards work</li>" in html
    assert "fine by me" in html
    rows = re.findall(
        r"<tr><td>[\d\- :]+</td><td>(\w+)</td><td>([\w.]+)</td>", html.split("audit trail")[-1]
    )
    assert rows == [
        ("bob", "decisions.decision_requested"),
        ("alice", "decisions.decision_approved"),
    ]
    # Read-only: decisions change only through the queue and the services.
    assert 'name="_save"' not in html


def test_the_decision_admin_refuses_add_change_and_delete(client, alice, make_decision):
    decision = make_decision()
    client.force_login(alice)
    assert client.get(reverse("admin:decisions_decision_add")).status_code == 403
    assert client.post(decision_url("change", decision), {"title": "x"}).status_code == 403
    assert client.post(decision_url("delete", decision), {"post": "yes"}).status_code == 403
    decision.refresh_from_db()
    assert decision.title.startswith("Connect the shop")


def test_the_decision_list_shows_when_it_is_due_and_filters_by_status(client, alice, make_decision):
    make_decision(title="Still open")
    rejected = make_decision(title="Turned down")
    decision_reject(decision_id=rejected.pk, user=alice)
    client.force_login(alice)
    url = reverse("admin:decisions_decision_changelist")

    everything = client.get(url).content.decode()
    assert "Still open" in everything and "Turned down" in everything
    assert re.search(r'<td class="field-due_in_words">in \d+\xa0(hours?|minutes?)</td>', everything)

    only_pending = client.get(url, {"status__exact": "pending"}).content.decode()
    assert "Still open" in only_pending and "Turned down" not in only_pending
    searched = client.get(url, {"q": "Turned"}).content.decode()
    assert "Turned down" in searched and "Still open" not in searched


def test_the_models_analysis_is_never_shown_in_the_admin(client, alice, make_decision):
    decision = make_decision(title="Connect Stripe", model_analysis=SECRET)
    decided = make_decision(title="Old one", model_analysis=SECRET)
    decision_reject(decision_id=decided.pk, user=alice, comment="no")
    assert Decision.objects.filter(model_analysis=SECRET).count() == 2  # it is stored
    client.force_login(alice)

    pages = [
        reverse("admin:index"),
        reverse("admin:decisions_queue"),
        reverse("admin:decisions_decision_changelist"),
        decision_url("change", decision),
        decision_url("change", decided),
        decision_url("history", decision),
        decision_url("history", decided),
        reverse("admin:decisions_auditevent_changelist"),
        *(audit_url("change", event.pk) for event in AuditEvent.objects.all()),
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert SECRET not in response.content.decode(), url
    partial = client.get(reverse("admin:decisions_queue"), {"partial": "1"}, HTTP_HX_REQUEST="true")
    assert "Connect Stripe" in partial.content.decode()
    assert SECRET not in partial.content.decode()

    # Nor can a search find a decision through it.
    searched = client.get(reverse("admin:decisions_decision_changelist"), {"q": "CHAIN-OF"})
    assert "Connect Stripe" not in searched.content.decode()
    assert "0 decisions" in searched.content.decode()


# --- budgets ------------------------------------------------------------------------


def test_a_budget_shows_its_spend_against_the_limit_as_a_bar(client, alice):
    budget = BudgetFactory(limit="1000")
    budget_spend_record(budget=budget, amount="100", source="ads", reference="inv-1")
    client.force_login(alice)

    for url in (
        reverse("admin:decisions_budget_changelist"),
        reverse("admin:decisions_budget_change", args=[budget.pk]),
    ):
        html = client.get(url).content.decode()
        assert 'class="budget-bar"' in html, url
        assert re.search(r'<div style="width:10\.0%;background:#417690;', html), url
        assert re.search(r"<small>100(\.00)? / 1000(\.00)? JPY \(10%\)", html), url


def test_an_overspent_budget_shows_a_full_red_bar(client, alice):
    budget = BudgetFactory(limit="1000")
    budget_spend_record(budget=budget, amount="1500", source="ads", reference="inv-1")
    client.force_login(alice)
    html = client.get(reverse("admin:decisions_budget_change", args=[budget.pk])).content.decode()
    assert re.search(r'<div style="width:100\.0%;background:#ba2121;', html)
    assert re.search(r"<small>1500(\.00)? / 1000(\.00)? JPY \(150%\)", html)


def test_a_budget_cannot_be_deleted_from_the_admin(admin_client):
    budget = BudgetFactory(limit="1000")
    url = reverse("admin:decisions_budget_delete", args=[budget.pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    assert Budget.objects.filter(pk=budget.pk).exists()


# --- the audit log ------------------------------------------------------------------


@pytest.fixture
def events(alice, bob, make_decision) -> list[AuditEvent]:
    approved = make_decision(title="Connect Stripe", requested_by=bob)
    decision_approve(decision_id=approved.pk, user=alice)
    rejected = make_decision(title="Connect PayPal", requested_by=bob)
    decision_reject(decision_id=rejected.pk, user=alice)
    return list(AuditEvent.objects.order_by("id"))


def test_the_audit_log_is_listed(client, alice, events):
    client.force_login(alice)
    html = client.get(audit_url("changelist")).content.decode()
    assert len(events) == 4
    assert _listed(html, events) == {event.pk for event in events}
    assert audit_url("add") not in html  # no "add" button


def test_the_audit_log_is_read_only(client, alice, events):
    event = events[1]
    before = AuditEvent.objects.values().get(pk=event.pk)
    client.force_login(alice)

    page = client.get(audit_url("change", event.pk))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="_save"' not in html and 'name="_continue"' not in html
    assert audit_url("delete", event.pk) not in html

    assert client.get(audit_url("add")).status_code == 403
    assert client.post(audit_url("change", event.pk), {"action": "forged"}).status_code == 403
    assert client.get(audit_url("delete", event.pk)).status_code == 403
    assert client.post(audit_url("delete", event.pk), {"post": "yes"}).status_code == 403
    bulk = client.post(
        audit_url("changelist"),
        {"action": "delete_selected", "_selected_action": [e.pk for e in events], "post": "yes"},
    )
    assert bulk.status_code in (200, 302)
    assert AuditEvent.objects.count() == len(events)
    assert AuditEvent.objects.values().get(pk=event.pk) == before


def test_even_a_superuser_cannot_change_the_audit_log(admin_client, events):
    event = events[0]
    assert admin_client.get(audit_url("add")).status_code == 403
    assert 'name="_save"' not in admin_client.get(audit_url("change", event.pk)).content.decode()
    assert admin_client.post(audit_url("delete", event.pk), {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def _listed(html: str, events: list[AuditEvent]) -> set[int]:
    return {event.pk for event in events if str(event.uuid) in html}


def test_the_audit_log_is_searchable(client, alice, events):
    client.force_login(alice)
    by_subject = client.get(audit_url("changelist"), {"q": "PayPal"}).content.decode()
    assert _listed(by_subject, events) == {e.pk for e in events if "PayPal" in e.subject_repr}
    by_actor = client.get(audit_url("changelist"), {"q": "alice"}).content.decode()
    assert _listed(by_actor, events) == {e.pk for e in events if e.actor_id == alice.pk}
    assert _listed(by_actor, events)  # not vacuous


def test_the_audit_log_is_filterable(client, alice, events):
    client.force_login(alice)
    html = client.get(audit_url("changelist")).content.decode()
    assert 'id="changelist-filter"' in html
    by_action = client.get(
        audit_url("changelist"), {"action": "decisions.decision_rejected"}
    ).content.decode()
    assert _listed(by_action, events) == {
        e.pk for e in events if e.action == "decisions.decision_rejected"
    }
    by_actor = client.get(
        audit_url("changelist"), {"actor__id__exact": str(alice.pk)}
    ).content.decode()
    assert _listed(by_actor, events) == {e.pk for e in events if e.actor_id == alice.pk}
    assert len(_listed(by_actor, events)) == 2


def test_people_without_the_view_permission_cannot_read_the_audit_log(client, bob, charlie, events):
    client.force_login(bob)
    assert client.get(audit_url("changelist")).status_code == 403
    assert client.get(audit_url("change", events[0].pk)).status_code == 403
    client.force_login(charlie)
    response = client.get(audit_url("changelist"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
