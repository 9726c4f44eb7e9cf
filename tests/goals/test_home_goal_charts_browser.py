"""The Goals section's small charts in a real browser (Debian's Chromium through
Playwright against the live server), as a person uses them: log in, see a small chart
beside each goal, click one and land on that goal's page at its progress chart."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser import admin_log_in
from tests.goals.home_setup import goal_behind

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_person_clicks_a_goals_small_chart_and_reads_its_chart(page: Page, alice):
    lamps = goal_behind(text="Sell more lamps")
    pillows = goal_behind(text="Sell more pillows", readings=False)

    admin_log_in(page, "alice", "pw-alice-123")
    page.goto("/")

    goals = page.locator("#home-goals")
    for goal in (lamps, pillows):
        chart = goals.locator(f"#home-goal-{goal.pk}").get_by_role(
            "img", name=re.compile(f"^{goal.text}: actual so far against the target line")
        )
        expect(chart).to_be_visible()

    goals.get_by_role("link", name=re.compile("^Sell more pillows: actual so far")).click()

    expect(page).to_have_url(re.compile(rf"/admin/goals/goal/{pillows.pk}/change/#goal-progress$"))
    progress = page.locator("#goal-progress")
    expect(progress.get_by_role("img", name=re.compile("actual vs target"))).to_be_in_viewport()
