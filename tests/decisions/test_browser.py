"""The approval queue in a real browser: Debian's Chromium driven by Playwright against
pytest-django's live server. An approver logs in through the admin's form, decides two
decisions in place, and both leave the queue without a page reload."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from decisions.models import AuditEvent, Decision
from decisions.services import decision_approve
from tests.browser import admin_log_in
from tests.personas import person_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def mark_page(page: Page) -> None:
    """A flag only this document carries: a reload or navigation would drop it."""
    page.evaluate("window.__sameDocument = true")


def assert_same_page(page: Page) -> None:
    assert page.evaluate("window.__sameDocument === true"), "the page reloaded"


def test_an_approver_decides_two_decisions_in_place(page, alice, make_decision, q_sync, recorded):
    first = make_decision(
        title="Buy ads for spring",
        urgency="high",
        situation="Spring sales start next week.",
        options=[
            {"key": "small", "label": "10 ads", "impact": "5,000 JPY", "recommended": True},
            {"key": "large", "label": "50 ads", "impact": "25,000 JPY"},
            {"key": "reject", "label": "No ads", "impact": "Slower spring"},
        ],
    )
    second = make_decision(title="Connect Stripe")
    recorded.clear()  # requesting ran nothing; start counting at the decisions

    admin_log_in(page, "alice", "pw-alice-123")
    queue = page.locator("#approval-queue")
    cards = queue.locator(".decision-card")
    expect(cards).to_have_count(2)  # loaded by htmx, first thing on the index
    expect(cards.nth(0)).to_contain_text("Buy ads for spring")  # high before normal
    expect(cards.nth(0)).to_contain_text("Spring sales start next week.")
    expect(cards.nth(0)).to_contain_text("(recommended)")
    expect(cards.nth(1)).to_contain_text("Connect Stripe")
    mark_page(page)

    row = page.locator(f"#decision-{first.pk}")
    row.get_by_label(re.compile("50 ads")).check()
    row.get_by_label("Comment").fill("go big")
    row.get_by_role("button", name="Approve").click()
    expect(row).to_have_attribute("data-decided", "approved")
    expect(row).to_contain_text("approved by alice")
    expect(cards).to_have_count(1)
    expect(page.locator("#decision-queue-count")).to_have_text("1")

    row = page.locator(f"#decision-{second.pk}")
    row.get_by_label("Comment").fill("not now")
    row.get_by_role("button", name="Reject").click()
    expect(row).to_have_attribute("data-decided", "rejected")
    expect(row).to_contain_text("rejected by alice")
    expect(cards).to_have_count(0)
    expect(page.locator("#decision-queue-count")).to_have_text("0")
    assert_same_page(page)

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == Decision.Status.APPLIED
    assert (first.chosen_option, first.comment) == ("large", "go big")
    assert recorded == [{"decision": first.pk, "args": {"n": 1}}]
    assert second.status == Decision.Status.REJECTED
    assert second.comment == "not now"
    assert first.decided_by == alice and second.decided_by == alice
    decided_by = dict(
        AuditEvent.objects.filter(
            action__in=["decisions.decision_approved", "decisions.decision_rejected"]
        ).values_list("subject_id", "actor__username")
    )
    assert decided_by == {str(first.pk): "alice", str(second.pk): "alice"}

    # A fresh load agrees: nothing is left waiting.
    page.reload()
    expect(page.locator("#approval-queue .decision-empty")).to_be_visible()


def test_a_decision_taken_meanwhile_shows_a_message_in_its_row(page, alice, make_decision):
    decision = make_decision(title="Connect Stripe")
    dora = person_create(
        "dora", permissions=("decisions.approve_decision", "decisions.view_decision")
    )

    admin_log_in(page, "alice", "pw-alice-123")
    row = page.locator(f"#decision-{decision.pk}")
    expect(row).to_contain_text("Connect Stripe")
    mark_page(page)
    decision_approve(decision_id=decision.pk, user=dora)

    row.get_by_role("button", name="Reject").click()

    expect(row.get_by_role("alert")).to_have_text(
        f"Decision #{decision.pk} is approved, not pending."
    )
    expect(row.get_by_role("button", name="Reject")).to_have_count(0)
    assert_same_page(page)
    decision.refresh_from_db()
    assert decision.status in (Decision.Status.APPROVED, Decision.Status.APPLIED)
    assert decision.decided_by_id == dora.pk


def _mailed_link(smtp_server, address: str) -> str:
    """The personal link in the new-decision mail that reached ``address``."""
    [mail] = smtp_server.to(address)
    [link] = re.findall(r"https?://\S+/link/\S+/", mail.part("text/plain"))
    return link


@pytest.mark.parametrize("verdict", ["Approve", "Reject"])
def test_the_mailed_link_decides_in_a_real_browser(
    page, live_server, settings, smtp_server, alice, make_decision, q_sync, recorded, verdict
):
    # The whole path a person takes: the mail arrives over SMTP, the link in it opens in
    # Chromium, the button posts the form (with the Origin header a browser really sends).
    settings.SITE_URL = live_server.url
    decision = make_decision(title="Buy ads for spring")
    link = _mailed_link(smtp_server, "alice@example.com")
    assert link.startswith(live_server.url)

    page.goto(link)
    expect(page.get_by_role("heading", name="Your decision is needed")).to_be_visible()
    expect(page.locator("body")).to_contain_text("Buy ads for spring")
    page.get_by_label("Comment (optional)").fill("from my phone")
    page.get_by_role("button", name=verdict).click()

    expect(page.get_by_role("heading", name="Thank you, your decision is recorded")).to_be_visible()
    decision.refresh_from_db()
    action = "approved" if verdict == "Approve" else "rejected"
    if verdict == "Approve":
        assert decision.status == Decision.Status.APPLIED
        assert recorded == [{"decision": decision.pk, "args": {"n": 1}}]
    else:
        assert decision.status == Decision.Status.REJECTED
        assert recorded == []
    assert (decision.decided_by, decision.comment) == (alice, "from my phone")
    [row] = AuditEvent.objects.filter(action=f"decisions.decision_{action}")
    assert (row.actor, row.subject_id, row.data["via"]) == (alice, str(decision.pk), "email link")

    # The link is spent: opening it again says so and changes nothing.
    page.goto(link)
    expect(page.locator("[data-refusal]")).to_have_attribute("data-refusal", "used")
    assert AuditEvent.objects.filter(action=f"decisions.decision_{action}").count() == 1


def test_the_link_page_keeps_its_token_out_of_cross_site_referrers(
    page, live_server, settings, smtp_server, alice, make_decision, q_sync
):
    # same-origin: the page's own form gets a real Origin, any other site gets nothing.
    settings.SITE_URL = live_server.url
    make_decision()
    response = page.goto(_mailed_link(smtp_server, "alice@example.com"))
    assert response.headers["referrer-policy"] == "same-origin"
    assert page.evaluate("document.referrer") == ""


def test_an_approver_decides_on_the_decision_page(page, alice, make_decision, q_sync, recorded):
    decision = make_decision(
        title="Buy ads for spring",
        options=[
            {"key": "small", "label": "10 ads", "impact": "5,000 JPY", "recommended": True},
            {"key": "large", "label": "50 ads", "impact": "25,000 JPY"},
            {"key": "reject", "label": "No ads", "impact": "Slower spring"},
        ],
    )
    admin_log_in(page, "alice", "pw-alice-123")
    page.goto(f"/admin/decisions/decision/{decision.pk}/change/")
    decide = page.locator("form.decision-decide")
    decide.get_by_label(re.compile("50 ads")).check()
    decide.get_by_label("Comment").fill("decided on its page")
    decide.get_by_role("button", name="Approve").click()

    # Back on the same decision's page, which now shows the outcome and no buttons.
    expect(page).to_have_url(re.compile(rf"/admin/decisions/decision/{decision.pk}/change/$"))
    expect(page.locator(".messagelist")).to_contain_text("“Buy ads for spring” approved.")
    expect(page.locator("form.decision-decide")).to_have_count(0)
    decision.refresh_from_db()
    assert decision.status == Decision.Status.APPLIED
    assert (decision.chosen_option, decision.comment) == ("large", "decided on its page")
    assert recorded == [{"decision": decision.pk, "args": {"n": 1}}]
    [row] = AuditEvent.objects.filter(action="decisions.decision_approved")
    assert (row.actor, row.data["via"]) == (alice, "admin")


def test_a_decision_taken_meanwhile_is_reported_on_the_decision_page(page, alice, make_decision):
    decision = make_decision(title="Connect Stripe")
    admin_log_in(page, "alice", "pw-alice-123")
    page.goto(f"/admin/decisions/decision/{decision.pk}/change/")
    decision_approve(decision_id=decision.pk, user=alice, comment="in another tab")

    page.locator("form.decision-decide").get_by_role("button", name="Reject").click()

    expect(page).to_have_url(re.compile(rf"/admin/decisions/decision/{decision.pk}/change/$"))
    expect(page.locator(".messagelist")).to_contain_text(
        f"Decision #{decision.pk} is approved, not pending."
    )
    decision.refresh_from_db()
    assert decision.status in (Decision.Status.APPROVED, Decision.Status.APPLIED)
