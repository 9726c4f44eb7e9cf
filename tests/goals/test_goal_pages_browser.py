"""The goal pages in headless Chromium, as a person uses them: alice types a goal,
reads what was understood and the plan, confirms, and lands on the goal page; a
sentence with a question offers no confirm button."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from goals.models import Goal
from tests.browser import admin_log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_alice_states_a_goal_confirms_it_and_sees_its_plan(page, alice):
    admin_log_in(page, "alice", "pw-alice-123")
    page.click("#new-goal")
    page.fill("#goal-text", "1週間で200万作りたい")
    page.get_by_role("button", name="Understand and plan").click()
    expect(page.locator(".goal-daily-target")).to_have_text("285,715")
    expect(page.locator(".goal-understood")).to_contain_text("Read by the rules")
    expect(page.locator(".goal-actions")).to_be_visible()
    page.click("#goal-confirm")
    goal = Goal.objects.get()
    expect(page).to_have_url(re.compile(rf"/admin/goals/goal/{goal.pk}/change/$"))
    expect(page.locator(".goal-sentence")).to_contain_text("1週間で200万作りたい")
    expect(page.locator(".goal-daily-target")).to_have_text("285,715")
    expect(page.locator(".goal-progress")).to_contain_text("not enough data")
    page.goto("/admin/")
    expect(page.locator("#active-goals")).to_contain_text("1週間で200万作りたい")


def test_a_next_term_goal_asks_and_offers_no_confirm(page, alice):
    admin_log_in(page, "alice", "pw-alice-123")
    page.click("#new-goal")
    page.fill("#goal-text", "来期に売上200万")
    page.get_by_role("button", name="Understand and plan").click()
    expect(page.locator(".goal-questions")).to_contain_text("来期")
    expect(page.locator("#goal-confirm")).to_have_count(0)
    assert Goal.objects.count() == 0
