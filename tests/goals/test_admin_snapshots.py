"""The MetricSnapshot admin: the list, and a person's manual reading recorded through
snapshot_record(source=manual), idempotent and audited under their name."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from decisions.models import AuditEvent
from goals.models import MetricSnapshot
from tests.browser import admin_log_in

ADD = "/admin/goals/metricsnapshot/add/"


def form(**changes):
    return {"metric": "revenue", "date": "2025-06-10", "amount": "19.99", "currency": "USD"} | (
        changes
    )


@pytest.mark.django_db
def test_a_manual_revenue_reading_is_stored_in_minor_units_and_audited(client, alice):
    client.force_login(alice)
    response = client.post(ADD, form())
    assert response.status_code == 302
    row = MetricSnapshot.objects.get()
    assert (row.source, row.metric, row.value, row.currency) == ("manual", "revenue", 1999, "USD")
    event = AuditEvent.objects.get(action="goals.snapshot_recorded")
    assert event.actor == alice


@pytest.mark.django_db
def test_entering_the_same_day_again_corrects_it_with_an_audit_row(client, alice):
    client.force_login(alice)
    client.post(ADD, form(metric="customers", amount="10", currency=""))
    client.post(ADD, form(metric="customers", amount="12", currency=""))
    assert MetricSnapshot.objects.get().value == 12
    assert AuditEvent.objects.filter(action="goals.snapshot_changed").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"currency": ""}, "Revenue needs a currency."),
        ({"metric": "customers", "amount": "3", "currency": "JPY"}, "is a count: leave it empty"),
        ({"currency": "JPY", "amount": "10.5"}, "Too many decimal places"),
        ({"amount": "-1"}, "greater than or equal to 0"),
    ],
)
def test_bad_manual_input_is_refused_with_a_clear_message(client, alice, changes, message):
    client.force_login(alice)
    response = client.post(ADD, form(**changes))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not MetricSnapshot.objects.exists()


@pytest.mark.django_db
def test_the_list_shows_money_in_major_units_and_readings_cannot_be_edited(client, alice):
    row = MetricSnapshot.objects.create(
        source="whop", metric="revenue", date="2025-06-10", value=200000000, currency="JPY"
    )
    client.force_login(alice)
    listing = client.get("/admin/goals/metricsnapshot/").content.decode()
    assert "200,000,000 JPY" in listing
    change = client.get(f"/admin/goals/metricsnapshot/{row.pk}/change/").content.decode()
    assert 'name="amount"' not in change  # a view page, no form to overwrite a source


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_person_adds_a_manual_reading_in_chromium(page, alice):
    admin_log_in(page, "alice", "pw-alice-123")
    page.goto(ADD)
    page.select_option("#id_metric", "revenue")
    page.fill("#id_date", "2025-06-10")
    page.fill("#id_amount", "2000000")
    page.select_option("#id_currency", "JPY")
    page.click("input[name=_save]")
    expect(page).to_have_url(re.compile(r"/admin/goals/metricsnapshot/$"))
    expect(page.locator("#result_list")).to_contain_text("2,000,000 JPY")
    row = MetricSnapshot.objects.get()
    assert (row.source, row.value) == ("manual", 2000000)
