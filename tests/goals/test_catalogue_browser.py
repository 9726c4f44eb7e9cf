"""The catalogue admin in headless Chromium: alice opens the catalogue from the admin
index, is told why a bad cost is refused, corrects cold outreach's yield and sees the
saved figure in the list (and the change audited)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from decisions.models import AuditEvent
from goals.models import CatalogueItem
from tests.browser import admin_log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_alice_edits_a_yield_in_the_admin_and_sees_it_saved(page, alice, catalogue_seeded):
    admin_log_in(page, "alice", "pw-alice-123")
    page.get_by_role("link", name="Catalogue items").click()
    expect(page).to_have_url(re.compile(r"/admin/goals/catalogueitem/$"))
    page.get_by_role("link", name="Cold outreach (capped per day)").click()
    expect(page.locator(".catalogue-yield-source")).to_contain_text("12M-email analysis")

    page.fill("#id_unit_cost", "0.5")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".errorlist")).to_contain_text("unit_cost has more decimals than JPY has")

    page.fill("#id_unit_cost", "3")
    page.fill("#id_yield_per_unit", "0.004")
    page.get_by_role("button", name="Save", exact=True).click()

    expect(page).to_have_url(re.compile(r"/admin/goals/catalogueitem/$"))
    row = page.locator("tr", has_text="Cold outreach (capped per day)")
    expect(row).to_contain_text("0.004")
    item = CatalogueItem.objects.get(key="cold_outreach")
    assert format(item.yield_per_unit.normalize(), "f") == "0.004"
    event = AuditEvent.objects.get(action="goals.catalogue_item_changed")
    assert event.actor == alice
    assert event.data["changes"] == {"yield_per_unit": ["0.002", "0.004"]}
