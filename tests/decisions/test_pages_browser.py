"""Pages issue 7 and 8 changed, used in headless Chromium as a person uses them: an
undelivered decision says so on the index queue and on its own page (reached by
clicking through the decisions list), and the audit log's date filter (which replaced
the date hierarchy) narrows the list when clicked."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.contrib.auth.models import Permission, User
from django.utils import timezone
from playwright.sync_api import expect

from decisions.services import audit_log
from tests.browser import admin_log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NO_ADDRESS = "Not delivered to anyone: no approver has an email address."


@pytest.fixture
def quiet(db) -> User:
    """The only approver, without an email address (she works in the admin)."""
    user = User.objects.create_user("quiet", "", "pw-quiet-123", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["approve_decision", "view_decision", "view_auditevent"]
        )
    )
    return user


def test_an_undelivered_decision_says_so_on_the_queue_and_its_page(
    page, quiet, smtp_server, q_sync, make_decision
):
    decision = make_decision(title="Connect Stripe")
    admin_log_in(page, "quiet", "pw-quiet-123")

    row = page.locator(f"#decision-{decision.pk}")
    expect(row).to_contain_text("Connect Stripe")
    expect(row).to_contain_text(NO_ADDRESS)

    page.goto("/admin/decisions/decision/")
    page.get_by_role("link", name="Connect Stripe").click()
    expect(page).to_have_url(re.compile(rf"/admin/decisions/decision/{decision.pk}/change/$"))
    expect(page.locator("#content")).to_contain_text(NO_ADDRESS)
    # The approver decides from this page too (issue 7 item 6).
    expect(page.get_by_role("button", name=re.compile("Approve"))).to_be_visible()


def test_the_audit_log_date_filter_narrows_the_list(page, quiet):
    with time_machine.travel(timezone.now() - dt.timedelta(days=40), tick=False):
        audit_log(action="decisions.policy_updated", data={"note": "long ago"})
    audit_log(action="decisions.policy_updated", data={"note": "just now"})
    admin_log_in(page, "quiet", "pw-quiet-123")

    page.goto("/admin/decisions/auditevent/")
    expect(page.locator("#result_list tbody tr")).to_have_count(2)
    page.locator("#changelist-filter").get_by_role("link", name="Past 7 days").click()
    expect(page).to_have_url(re.compile(r"created_at__gte="))
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    page.locator("#changelist-filter").get_by_role("link", name="Any date").click()
    expect(page.locator("#result_list tbody tr")).to_have_count(2)
