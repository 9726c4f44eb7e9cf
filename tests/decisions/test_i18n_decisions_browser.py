"""A person whose browser asks for Japanese opens the approval queue, follows it to the
list of decisions and a decision's page, and reads the headings and controls in
Japanese. Expected text is ``gettext`` under ``ja`` (so the test holds before and after
the catalogue gains these strings); where the catalogue has an entry, the English is
absent."""

from __future__ import annotations

import re

import pytest
from django.utils import translation
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _ja(msgid: str) -> str:
    with translation.override("ja"):
        return translation.gettext(msgid)


def _expect_japanese(locator, msgid: str) -> None:
    expect(locator).to_contain_text(_ja(msgid))
    if _ja(msgid) != msgid:  # the catalogue has it: no English left behind
        expect(locator).not_to_contain_text(msgid)


def test_a_japanese_reader_opens_the_queue_and_a_decision(page_ja, alice, make_decision):
    decision = make_decision(title="Raise the ads budget")
    page = page_ja
    page.goto("/admin/login/?next=/admin/decisions/decision/queue/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "pw-alice-123")
    page.click("input[type=submit]")
    expect(page).to_have_url(re.compile(r"/admin/decisions/decision/queue/$"))
    expect(page.locator("html")).to_have_attribute("lang", "ja")

    _expect_japanese(page.locator("#decision-queue-box > h2"), "Decisions waiting for you")
    _expect_japanese(page.locator(".breadcrumbs"), "Approval queue")
    _expect_japanese(page.locator("#nav-sidebar"), "Governance")  # the app, in the sidebar
    card = page.locator(f"#decision-{decision.pk}")
    expect(card).to_contain_text("Raise the ads budget")  # what the agent wrote, as written
    _expect_japanese(card.locator("legend"), "Options")
    expect(card.get_by_role("button", name=_ja("Approve"))).to_be_visible()
    expect(card.get_by_role("button", name=_ja("Reject"))).to_be_visible()

    page.get_by_role("link", name=_ja("All decisions and their history")).click()
    expect(page).to_have_url(re.compile(r"/admin/decisions/decision/$"))
    page.get_by_role("link", name="Raise the ads budget").click()
    expect(page).to_have_url(re.compile(rf"/admin/decisions/decision/{decision.pk}/change/$"))

    heading = page.locator(f"#decision-{decision.pk} > h3")
    before_left = _ja("Decide (%(left)s)").split("%(left)s")[0]
    expect(heading).to_contain_text(before_left)
    _expect_japanese(page.locator(f"#decision-{decision.pk} legend"), "Options")
    # The read-only fields carry the models' Japanese labels (capitalised as the admin does).
    expect(page.locator(".field-situation label")).to_contain_text(
        _ja("situation")[:1].upper() + _ja("situation")[1:]
    )
    expect(page.get_by_role("button", name=_ja("Approve"))).to_be_visible()
