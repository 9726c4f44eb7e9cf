"""The goal pages in headless Chromium, as a person uses them: alice types a goal,
reads what was understood and the plan, confirms, and lands on the goal page; a
sentence with a question offers no confirm button; a running goal is opened from the
index, its plan and figures read, a run followed, and the goal cancelled."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from goals.models import Goal, GoalRun, MetricSnapshot, PlanRevision
from tests.browser import admin_log_in
from tests.workflows.factories import RunFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_alice_states_a_goal_confirms_it_and_sees_its_plan(page, alice):
    admin_log_in(page, "alice", "pw-alice-123")
    page.click("#new-goal")
    page.fill("#goal-text", "1週間で200万作りたい")
    page.get_by_role("button", name="Understand and plan").click()
    expect(page.locator(".goal-daily-target")).to_have_text("285,715")
    expect(page.locator(".goal-understood")).to_contain_text("Read by the rules")
    expect(page.locator(".goal-actions")).to_be_visible()
    # No ARPU is known on a fresh install: the page asks for it.
    expect(page.locator("#goal-arpu")).to_be_visible()
    page.click("#goal-confirm")
    goal = Goal.objects.get()
    expect(page).to_have_url(re.compile(rf"/admin/goals/goal/{goal.pk}/change/$"))
    expect(page.locator(".goal-sentence")).to_contain_text("1週間で200万作りたい")
    expect(page.locator(".goal-daily-target")).to_have_text("¥285,715")
    # Saved without one, its plan has nothing to run: it stays planned and says why.
    expect(page.locator("body")).to_contain_text("Nothing would run: no ARPU is known")
    expect(page.locator("#goal-plan-state")).to_contain_text("not started")
    goal.refresh_from_db()
    assert goal.status == Goal.Status.PLANNED


def test_alice_gives_the_arpu_on_the_confirmation_and_the_plan_gets_its_workflows(
    page, alice, catalogue_seeded
):
    admin_log_in(page, "alice", "pw-alice-123")
    page.click("#new-goal")
    page.fill("#goal-text", "1週間で200万作りたい")
    page.get_by_role("button", name="Understand and plan").click()
    page.fill("#goal-arpu", "5,000")
    page.get_by_role("button", name="Plan with this ARPU").click()
    expect(page.locator(".goal-actions")).to_contain_text("trial-onboarding")
    expect(page.locator("#goal-arpu")).to_have_count(0)
    page.click("#goal-confirm")
    goal = Goal.objects.get()
    expect(page).to_have_url(re.compile(rf"/admin/goals/goal/{goal.pk}/change/$"))
    goal.refresh_from_db()
    assert goal.fields_from["arpu"] == "person"
    # The shipped workflows are not published here: the plan waits for a decision.
    assert goal.status == Goal.Status.AWAITING_APPROVAL


def test_a_next_term_goal_asks_and_offers_no_confirm(page, alice):
    admin_log_in(page, "alice", "pw-alice-123")
    page.click("#new-goal")
    page.fill("#goal-text", "来期に売上200万")
    page.get_by_role("button", name="Understand and plan").click()
    expect(page.locator(".goal-questions")).to_contain_text("来期")
    expect(page.locator("#goal-confirm")).to_have_count(0)
    assert Goal.objects.count() == 0


def _running_goal() -> Goal:
    """A 30-day ¥3,000,000 goal a week in (today is the real today: the live server's),
    90,000 a day so far, one succeeded run on a workflow run."""
    today = timezone.localdate()
    start = today - dt.timedelta(days=7)
    goal = Goal.objects.create(
        text="30日で300万作りたい",
        metric="revenue",
        target_amount=3_000_000,
        currency="JPY",
        period_start=start,
        period_end=start + dt.timedelta(days=29),
        status=Goal.Status.ACTIVE,
        fields_from={"metric": "rules", "target_amount": "rules", "period": "rules"},
    )
    revision = PlanRevision.objects.create(
        goal=goal,
        number=1,
        rationale="Outreach brings the customers.",
        approved_at=timezone.now(),
        document={
            "daily_target": "100000",
            "budget_estimate": "30000",
            "actions": [
                {
                    "workflow": "cold-outreach",
                    "catalogue": "cold_outreach",
                    "per_day": 40,
                    "expected": "100000",
                    "cost_per_day": "1000",
                    "cost": "30000",
                },
            ],
        },
    )
    for n in range(7):
        MetricSnapshot.objects.create(
            source="manual",
            metric="revenue",
            date=start + dt.timedelta(days=n),
            value=90_000,
            currency="JPY",
        )
    GoalRun.objects.create(
        goal=goal,
        revision=revision,
        action="cold_outreach",
        day=today - dt.timedelta(days=1),
        status=GoalRun.Status.SUCCEEDED,
        run=RunFactory(),
        spend=1_000,
    )
    return goal


def test_alice_reads_a_running_goal_follows_its_run_and_cancels_it(page, alice):
    goal = _running_goal()
    admin_log_in(page, "alice", "pw-alice-123")
    page.locator("#active-goals").get_by_role("link", name="30日で300万作りたい").click()
    expect(page).to_have_url(re.compile(rf"/admin/goals/goal/{goal.pk}/change/$"))
    plan = page.locator("#goal-plan")
    expect(plan.locator("tbody tr")).to_have_count(1)
    expect(plan.locator("tbody tr td").nth(1)).to_have_text("40")
    expect(plan.locator("tbody tr td").nth(3)).to_have_text("¥1,000")
    expect(page.locator("#goal-plan-state")).to_contain_text("started within policy")
    figures = page.locator("#goal-progress-figures")
    expect(figures).to_contain_text("¥630,000 of ¥3,000,000")
    expect(figures).to_contain_text("21.0%")
    expect(figures).to_contain_text("behind plan")
    expect(page.locator("svg.goal-chart .forecast")).to_have_count(1)

    page.locator("#goal-runs .goal-run-link").click()
    expect(page).to_have_url(re.compile(r"/admin/workflows/run/\d+/change/$"))
    page.go_back()

    page.on("dialog", lambda dialog: dialog.accept())
    page.fill("#goal-cancel-form input[name=reason]", "the campaign was dropped")
    page.click("#goal-cancel")
    expect(page.locator("#goal-status")).to_have_text("Cancelled")
    expect(page.locator("#goal-cancel")).to_have_count(0)
    goal.refresh_from_db()
    assert goal.status == Goal.Status.CANCELLED
    page.goto("/admin/")
    expect(page.locator("#goals-section")).to_contain_text("No active goals.")
