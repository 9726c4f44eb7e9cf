"""A person reads the runs, goals and decisions lists in headless Chromium, reaching each
from the admin index as they would, and follows a decision from the list to its page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser import admin_log_in
from tests.goals.report_data import goal_make
from tests.personas import person_create
from tests.workflows.factories import RunFactory, WorkflowFactory
from workflows.models import Run, RunTrigger

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_person_reads_the_runs_goals_and_decisions_lists(page, make_decision):
    person_create(
        "erin",
        permissions=["workflows.view_run", "goals.view_goal", "decisions.view_decision"],
    )
    RunFactory(
        workflow=WorkflowFactory(name="Weekly sales mail", version=3),
        trigger=RunTrigger.SCHEDULE,
        status=Run.Status.FAILED,
        error="The shop API refused the key\nTraceback …",
    )
    goal_make(text="Sell two million yen in a week", target=2_000_000)
    decision = make_decision(title="Connect Stripe")

    admin_log_in(page, "erin", "pw-erin-123")
    content = page.locator("#content-main")

    content.get_by_role("link", name="Runs", exact=True).click()
    row = page.locator("#result_list tr", has_text="Weekly sales mail v3")
    expect(row).to_contain_text("Schedule")
    expect(row).to_contain_text("Failed: The shop API refused the key")
    expect(row).not_to_contain_text("Traceback")

    page.goto(page.url.split("/admin/")[0] + "/admin/")
    content.get_by_role("link", name="Goals", exact=True).click()
    row = page.locator("#result_list tr", has_text="Sell two million yen in a week")
    expect(row).to_contain_text("of ¥2,000,000")
    expect(row.locator("progress")).to_have_count(1)

    page.goto(page.url.split("/admin/")[0] + "/admin/")
    content.get_by_role("link", name="Decisions", exact=True).click()
    row = page.locator("#result_list tr", has_text="Connect Stripe")
    expect(row).to_contain_text("Sales need card payments")  # the summary under the title
    expect(row).to_contain_text("Pending")
    row.get_by_role("link", name="Connect Stripe").click()
    expect(page).to_have_url(
        f"{page.url.split('/admin/')[0]}/admin/decisions/decision/{decision.pk}/change/"
    )
