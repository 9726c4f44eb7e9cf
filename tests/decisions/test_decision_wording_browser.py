"""A person answers a decision worded in business terms, in Debian's Chromium.

An approver logs in, finds the budget decision in the queue on the admin index, reads
what approving costs and the evidence table, opens the collapsed technical details,
chooses to raise the limit and approves; the budget's limit changes.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from decisions.models import Budget, Decision
from decisions.services import budget_create
from decisions.services.budgets import budget_spend_record
from tests.browser import admin_log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_approver_reads_the_business_summary_and_approves(page, alice, q_sync):
    budget = budget_create(name="Marketing", limit=10_000, period="monthly", currency="JPY")
    # Already five times the limit: whatever the day, the month is forecast to overrun.
    budget_spend_record(budget=budget, amount=50_000, source="ads", reference="r1")
    decision = Decision.objects.get(action="decisions.budget_limit_set")
    new_limit = Decimal(decision.action_args["limit"])

    admin_log_in(page, "alice", "pw-alice-123")
    row = page.locator(f"#decision-{decision.pk}")
    expect(row.locator(".decision-summary")).to_have_text(
        re.compile(r"^Spend up to ¥[\d,]+ more this month on Marketing: ¥[\d,]+ a day over budget$")
    )
    evidence = row.locator("table.decision-evidence")
    expect(evidence.get_by_role("row", name="Spent so far ¥50,000")).to_be_visible()
    expect(evidence.get_by_role("row", name="Current limit ¥10,000")).to_be_visible()
    expect(
        evidence.get_by_role("row", name=f"New limit if approved ¥{new_limit:,.0f}")
    ).to_be_visible()

    digest = row.locator(".decision-technical").get_by_text(decision.action_digest)
    expect(digest).to_be_hidden()  # collapsed until asked for
    row.get_by_text("Technical details").click()
    expect(digest).to_be_visible()
    expect(row.locator(".decision-technical")).to_contain_text("decisions.budget_limit_set")

    row.get_by_label(re.compile("Raise the limit")).check()
    row.get_by_role("button", name="Approve").click()
    expect(row).to_have_attribute("data-decided", "approved")

    decision.refresh_from_db()
    budget.refresh_from_db()
    assert decision.status == Decision.Status.APPLIED, decision.outcome
    assert budget.limit == new_limit
    assert Budget.objects.count() == 1
