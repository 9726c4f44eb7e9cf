"""Budgets are created and edited in the admin: through the services (audited), with
the read-only spend ledger inline, and without a 500 on save."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from playwright.sync_api import expect

from decisions.models import AuditEvent, Budget
from decisions.services import budget_spend_record
from tests.browser import admin_log_in
from tests.decisions.factories import BudgetFactory
from tests.personas import person_create


def _form(**overrides: str) -> dict[str, str]:
    """The add/change form as the admin posts it, inline management form included."""
    data = {
        "name": "Ads",
        "period": "monthly",
        "limit": "100000",
        "currency": "JPY",
        "active": "on",
        "spends-TOTAL_FORMS": "0",
        "spends-INITIAL_FORMS": "0",
        "spends-MIN_NUM_FORMS": "0",
        "spends-MAX_NUM_FORMS": "0",
    }
    data.update(overrides)
    return data


@pytest.fixture
def dora(db) -> User:
    """Staff who manages budgets: may add, change and view them and see their ledger."""
    return person_create(
        "dora",
        permissions=(
            "decisions.add_budget",
            "decisions.change_budget",
            "decisions.view_budget",
            "decisions.view_budgetspend",
        ),
    )


@pytest.mark.django_db
def test_it_adds_a_budget_through_the_service(client, dora):
    client.force_login(dora)

    response = client.post(reverse("admin:decisions_budget_add"), _form())

    assert response.status_code == 302, response.content.decode()[:2000]
    budget = Budget.objects.get()
    assert (budget.name, budget.limit, budget.currency, budget.period) == (
        "Ads",
        100000,
        "JPY",
        "monthly",
    )
    event = AuditEvent.objects.get(action="decisions.budget_created")
    assert event.actor == dora and event.subject_id == str(budget.pk)


@pytest.mark.django_db
def test_it_edits_a_budget_with_spends_through_the_service(client, dora):
    budget = BudgetFactory()
    budget_spend_record(budget=budget, amount="2500", source="ads", reference="inv-1")
    client.force_login(dora)
    url = reverse("admin:decisions_budget_change", args=[budget.pk])
    assert "inv-1" in client.get(url).content.decode()  # the ledger is shown inline

    response = client.post(
        url, _form(name="Ads (Q4)", limit="150000", **{"spends-INITIAL_FORMS": "1"})
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    budget.refresh_from_db()
    assert (budget.name, budget.limit) == ("Ads (Q4)", 150000)
    assert budget.spends.count() == 1  # the read-only ledger is untouched
    event = AuditEvent.objects.get(action="decisions.budget_updated")
    assert event.actor == dora
    assert event.data == {
        "limit": {"from": "100000", "to": "150000"},
        "name": {"from": "Ads", "to": "Ads (Q4)"},
    }
    history = client.get(reverse("admin:decisions_budget_history", args=[budget.pk]))
    assert "Changed Name and Limit." in history.content.decode()


@pytest.mark.django_db
def test_a_budget_added_inactive_stays_inactive(client, dora):
    client.force_login(dora)
    data = _form()
    del data["active"]  # an unticked box is not posted

    assert client.post(reverse("admin:decisions_budget_add"), data).status_code == 302

    assert Budget.objects.get().active is False


@pytest.mark.django_db
def test_a_bad_limit_is_refused_on_the_form_and_nothing_changes(client, dora):
    budget = BudgetFactory()
    client.force_login(dora)

    response = client.post(
        reverse("admin:decisions_budget_change", args=[budget.pk]), _form(limit="10.5")
    )

    assert response.status_code == 200
    assert "JPY has no minor unit: use a whole amount." in response.content.decode()
    budget.refresh_from_db()
    assert budget.limit == 100000
    assert not AuditEvent.objects.filter(action="decisions.budget_updated").exists()


# --- in a real browser --------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_person_adds_and_edits_a_budget_in_the_browser(page, dora):
    admin_log_in(page, "dora", "pw-dora-123")

    page.goto("/admin/decisions/budget/add/")
    page.fill("#id_name", "Cloud")
    page.select_option("#id_period", "weekly")
    page.fill("#id_limit", "49.99")
    page.fill("#id_currency", "USD")
    page.click("input[name=_save]")
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    budget = Budget.objects.get()
    assert (budget.name, str(budget.limit), budget.currency) == ("Cloud", "49.99", "USD")

    page.goto(f"/admin/decisions/budget/{budget.pk}/change/")
    page.fill("#id_limit", "75")
    page.click("input[name=_save]")
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    expect(page.locator("#result_list")).to_contain_text("75.00 USD")
    budget.refresh_from_db()
    assert str(budget.limit) == "75.00"
    assert list(
        AuditEvent.objects.filter(subject_id=str(budget.pk))
        .order_by("id")
        .values_list("action", "actor__username")
    ) == [("decisions.budget_created", "dora"), ("decisions.budget_updated", "dora")]
