"""The confirmation page's "Start" in headless Chromium, as a person uses it: the goal
starts at once within the policy, or waits for a named decision; a confirmation whose
carried goal was altered in the page is refused and saves nothing."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from goals.models import Goal
from tests.browser import admin_log_in
from tests.goals.factories import catalogue_published, services_approved_before

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WEEK = "1週間で200万作りたい"


def _confirmation(page, *, arpu: str = "") -> None:
    admin_log_in(page, "alice", "pw-alice-123")
    page.click("#new-goal")
    page.fill("#goal-text", WEEK)
    page.get_by_role("button", name="Understand and plan").click()
    if arpu:  # without one, a revenue plan has nothing to run and does not start
        page.fill("#goal-arpu", arpu)
        page.get_by_role("button", name="Plan with this ARPU").click()
    expect(page.get_by_role("button", name="Start")).to_be_visible()


#: The trial onboarding workflow's inputs besides its volume (loopback: nothing runs here).
TRIAL_INPUTS = {
    "trials_url": "http://127.0.0.1:9/trials",
    "email_api_url": "http://127.0.0.1:9/mail",
    "language": "ja",
    "product": "App",
}


def test_start_makes_the_goal_active_within_the_policy(page, alice, catalogue_seeded):
    catalogue_published(actor=alice, run_inputs={"trial_onboarding": TRIAL_INPUTS})
    services_approved_before(hosts=["127.0.0.1"], actor=alice)  # no new integration
    _confirmation(page, arpu="5000")

    page.get_by_role("button", name="Start").click()

    goal = Goal.objects.get(text=WEEK)
    expect(page).to_have_url(re.compile(rf"/admin/goals/goal/{goal.pk}/change/$"))
    expect(page.locator(".messagelist")).to_contain_text(f"Goal #{goal.pk} is active")
    assert goal.status == Goal.Status.ACTIVE
    assert goal.revisions.get().approved_at is not None


def test_start_over_a_policy_line_says_which_decision_it_waits_for(
    page, alice, settings, catalogue_seeded
):
    settings.AUTO_EXECUTION_ENABLED = False
    _confirmation(page, arpu="5000")

    page.get_by_role("button", name="Start").click()

    goal = Goal.objects.get()
    decision_id = goal.revisions.get().decision_id
    expect(page.locator(".messagelist")).to_contain_text(
        f"Goal #{goal.pk} is planned and waits for decision #{decision_id}"
    )
    assert goal.status == Goal.Status.AWAITING_APPROVAL


def test_a_confirmation_altered_in_the_page_is_refused(page, alice):
    _confirmation(page)
    # Someone edits the carried goal in the page (a bigger target, say) before Start.
    page.evaluate(
        "() => { const s = document.querySelector('input[name=state]');"
        " s.value = s.value.replace(/.$/, c => c === 'A' ? 'B' : 'A'); }"
    )

    page.get_by_role("button", name="Start").click()

    expect(page.locator("#goal-error")).to_contain_text("changed or damaged")
    assert Goal.objects.count() == 0
