"""Admin goal pages with the test client: "New goal" → confirmation → saved and started,
the read-only goal page, and the active goals on the admin index.

Personas (tests/personas.py): alice is a superuser, bob is staff who may view goals but
not add them, charlie is staff with no permission on goals.
"""

from __future__ import annotations

import datetime as dt
import html as html_lib
import re

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from decisions.models import AuditEvent, Decision
from goals.models import CatalogueItem, Goal, GoalReport, GoalRun, PlanRevision
from tests.goals.report_data import (
    at,
    day,
    decision_make,
    goal_make,
    reading,
    revision_make,
    run_make,
)
from tests.workflows.factories import RunFactory

pytestmark = pytest.mark.django_db

ADD = "admin:goals_goal_add"
WEEK = "1週間で200万作りたい"


def _post(client, text: str, **extra):
    return client.post(reverse(ADD), {"text": text, **extra})


def confirm_state(page: str) -> str:
    """The signed understanding and plan the confirmation page carries to "Start"."""
    match = re.search(r'name="state" value="([^"]*)"', page)
    assert match, "the confirmation page carries no state"
    return html_lib.unescape(match.group(1))


def _start(client, text: str = WEEK, **extra):
    state = confirm_state(_post(client, text, **extra).content.decode())
    return client.post(reverse(ADD), {"state": state, "confirm": "1"})


def _saved_goal(client, text: str = WEEK) -> Goal:
    response = _start(client, text)
    assert response.status_code == 302, response.content.decode()[:500]
    return Goal.objects.get()


# --- "New goal" ----------------------------------------------------------------------


def test_alice_gets_the_one_box_form(client, alice):
    client.force_login(alice)
    response = client.get(reverse(ADD))
    assert response.status_code == 200
    assert 'name="text"' in response.content.decode()


@pytest.mark.parametrize("persona", ["bob", "charlie"])
def test_only_people_who_may_add_goals_get_the_form(client, persona, request):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(reverse(ADD)).status_code == 403
    assert _post(client, WEEK, confirm="1").status_code == 403
    assert Goal.objects.count() == 0


def test_the_confirmation_shows_what_was_understood_and_the_plan_without_saving(client, alice):
    client.force_login(alice)
    response = _post(client, WEEK)
    html = response.content.decode()
    assert response.status_code == 200
    assert "285,715" in html  # 2,000,000 / 7 rounded up
    assert "Read by the rules" in html  # the period and amount came from the rules
    assert "A default" in html  # a bare 200万 is JPY by default: shown back
    assert "Please check" in html and "currency" in html
    assert 'class="goal-actions"' in html
    assert "Budget estimate" in html
    assert "achieved so far is assumed to be 0" in html  # the assumptions
    assert 'id="goal-confirm"' in html
    assert Goal.objects.count() == 0
    assert PlanRevision.objects.count() == 0


def test_confirm_saves_the_goal_and_its_plan_and_lands_on_its_page(client, alice):
    client.force_login(alice)
    response = _start(client)
    goal = Goal.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:goals_goal_change", args=[goal.pk])
    # No workflow can be valued without an ARPU: nothing to run, so it does not start.
    assert goal.status == Goal.Status.PLANNED
    assert goal.target_amount == 2_000_000
    assert goal.requested_by == alice
    revision = goal.revisions.get()
    assert revision.number == 1
    assert revision.document["daily_target"] == "285715"
    # The message says so too: saved, not started, and why.
    page = client.get(response["Location"]).content.decode()
    assert f"Goal #{goal.pk} is saved but not started" in page
    assert "is active: its plan started" not in page


def test_the_confirmation_asks_for_the_arpu_and_plans_with_the_one_given(client, alice):
    client.force_login(alice)
    asked = _post(client, WEEK).content.decode()
    assert 'id="goal-arpu"' in asked and "No ARPU is known" in asked

    planned = _post(client, WEEK, arpu="5,000").content.decode()

    assert 'id="goal-arpu"' not in planned  # known now: not asked again
    assert "trial-onboarding" in planned and "cold-outreach" in planned
    response = _start(client, WEEK, arpu="5000")
    goal = Goal.objects.get()
    assert response.status_code == 302 and goal.fields_from["arpu"] == "person"
    plan = goal.revisions.get().document
    assert plan["arpu"] == "5000" and plan["sources"]["arpu"] == "person" and plan["actions"]
    # The shipped workflows are unpublished: the plan waits for a person, it is not held.
    assert goal.status == Goal.Status.AWAITING_APPROVAL


def test_a_bad_arpu_on_the_confirmation_names_it_and_saves_nothing(client, alice):
    client.force_login(alice)
    html = _post(client, WEEK, arpu="-3").content.decode()
    assert "ARPU must be above zero" in html
    assert not Goal.objects.exists()


def test_a_question_offers_no_confirm_and_says_what_to_add(client, alice):
    client.force_login(alice)
    response = _post(client, "来期に売上200万")
    html = response.content.decode()
    assert response.status_code == 200
    assert "来期" in html and "start and an end date" in html
    assert 'id="goal-confirm"' not in html
    assert "add the answer to your sentence" in html
    # A forged confirm (no signed state) changes nothing and says so.
    forged = _post(client, "来期に売上200万", confirm="1").content.decode()
    assert "changed or damaged" in forged
    assert Goal.objects.count() == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("   ", "Type a goal"),
        ("x" * 2001, "keep it under 2,000"),
        ("1週間で-200万作りたい", "negative"),
    ],
)
def test_bad_input_returns_the_form_with_one_clear_message(client, alice, text, message):
    client.force_login(alice)
    response = _post(client, text)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="goal-error"' in html
    assert message in html
    assert html.count("<li>") >= 1 and 'class="errorlist"' in html
    assert Goal.objects.count() == 0


def test_start_does_not_understand_the_sentence_again(client, alice, monkeypatch):
    client.force_login(alice)
    state = confirm_state(_post(client, WEEK).content.decode())

    def no_second_look(**kwargs):
        raise AssertionError("goal_understand ran again on Start")

    monkeypatch.setattr("goals.admin_goals.goal_understand", no_second_look)
    response = client.post(reverse(ADD), {"state": state, "confirm": "1"})
    assert response.status_code == 302
    assert Goal.objects.get().target_amount == 2_000_000


def test_a_tampered_confirmation_is_refused_and_saves_nothing(client, alice):
    client.force_login(alice)
    state = confirm_state(_post(client, WEEK).content.decode())
    tampered = state[:-3] + ("AAA" if not state.endswith("AAA") else "BBB")
    html = client.post(reverse(ADD), {"state": tampered, "confirm": "1"}).content.decode()
    assert 'id="goal-error"' in html and "changed or damaged" in html
    assert Goal.objects.count() == 0


def test_a_stale_confirmation_is_refused_and_saves_nothing(client, alice):
    import time_machine

    client.force_login(alice)
    state = confirm_state(_post(client, WEEK).content.decode())
    with time_machine.travel(timezone.now() + dt.timedelta(hours=2)):
        client.force_login(alice)
        html = client.post(reverse(ADD), {"state": state, "confirm": "1"}).content.decode()
    assert 'id="goal-error"' in html and "more than an hour old" in html
    assert Goal.objects.count() == 0


# --- the goal page (constructed data: tests/goals/report_data.py) --------------------

TODAY = day(5)  # the one-week goal's fifth day: four days elapsed


def _page(client, goal: Goal) -> str:
    with time_machine.travel(at(TODAY), tick=False):
        response = client.get(reverse("admin:goals_goal_change", args=[goal.pk]))
    assert response.status_code == 200
    return response.content.decode()


def _section(html: str, marker: str) -> str:
    """The page from ``marker`` to the next section heading."""
    start = html.index(marker)
    end = html.find("<h2>", start)
    return html[start : end if end > 0 else len(html)]


def _planned_goal(**fields) -> Goal:
    """A goal on plan r1 (two workflows) started within policy, r2 adjusted by +8%."""
    goal = goal_make(**fields)
    PlanRevision.objects.filter(goal=goal, number=1).update(
        rationale="Outreach brings trials; onboarding turns them into customers.",
        document={
            "daily_target": "285715",
            "budget_estimate": "12000",
            "actions": [
                {
                    "workflow": "cold_outreach",
                    "catalogue": "cold_outreach",
                    "per_day": 25,
                    "expected": "200000",
                    "cost_per_day": "1000",
                    "cost": "7000",
                },
                {
                    "workflow": "trial_onboarding",
                    "catalogue": "trial_onboarding",
                    "per_day": 10,
                    "expected": "85715",
                    "cost_per_day": "714.29",
                    "cost": "5000",
                },
            ],
            "assumptions": ["ARPU of ¥10,000 is an assumption (no Whop data yet)"],
            "risks": [{"kind": "budget", "message": "Outreach may hit its daily cap"}],
        },
    )
    return goal


def test_an_empty_goal_says_there_is_nothing_yet(client, alice):
    client.force_login(alice)
    goal = goal_make()
    html = _page(client, goal)
    assert "1週間で200万作りたい" in html and 'id="goal-status">Active<' in html
    assert 'class="goal-understood"' in html and "Read by the rules" in html
    assert "No runs yet." in html and "No decisions asked." in html
    assert "No reports yet." in html
    figures = _section(html, 'id="goal-progress-figures"')
    assert "¥0 of ¥2,000,000" in figures and "not enough data for a trend yet" in figures
    assert "<svg" in html and 'class="forecast"' not in html
    assert "no goal closed yet" in _section(html, 'id="goal-monitoring"')


def test_the_plan_reads_as_a_table_with_its_rationale_approval_assumptions_and_risks(client, alice):
    client.force_login(alice)
    goal = _planned_goal()
    CatalogueItem.objects.filter(key="cold_outreach").update(title="Cold outreach (capped)")
    html = _page(client, goal)
    plan = _section(html, 'id="goal-plan-state"')
    assert "started within policy" in plan
    assert "Cold outreach (capped)" in plan  # the catalogue's title, not the key
    assert "<td>25</td><td>¥200,000</td><td>¥1,000</td><td>¥7,000</td>" in plan
    assert "¥285,715" in plan and "¥12,000" in plan
    assert "Outreach brings trials" in plan
    assert "ARPU of ¥10,000 is an assumption" in plan
    assert "Outreach may hit its daily cap" in plan
    assert "{" not in plan.split("</p>", 1)[1]  # no raw JSON


def test_the_revision_history_shows_adjustments_with_their_change(client, alice, bob):
    client.force_login(alice)
    goal = _planned_goal()
    revision_make(
        goal,
        number=2,
        on=day(3),
        reason=PlanRevision.Reason.ADJUSTMENT,
        rationale="Behind plan: volumes scaled.",
        approved_at=at(day(3), 13),
        approved_by=bob,
    )
    PlanRevision.objects.filter(goal=goal, number=2).update(
        document={
            **PlanRevision.objects.get(goal=goal, number=1).document,
            "adjustment": {
                "day": day(3).isoformat(),
                "cumulative_change": "0.08",
                "run_rate": "250000.00",
            },
        }
    )
    reading(day(3), 300_000)
    reading(day(4), 320_000)
    html = _page(client, goal)
    assert "approved by bob" in _section(html, 'id="goal-plan-state"')
    history = _section(html, 'class="goal-revisions"')
    assert "Volume adjustment" in history and "+8.0%" in history and "Behind plan" in history
    monitoring = _section(html, 'id="goal-monitoring"')
    # r2: run rate ¥250,000 before; days 3 and 4 after: (300,000 + 320,000) / 2.
    assert "adjustment r2 on 2026-12-03" in monitoring
    assert "¥250,000 before, ¥310,000 after" in monitoring
    assert "50% (1 of 2 plans started without a person)" in monitoring


def test_the_progress_figures_under_the_chart(client, alice):
    client.force_login(alice)
    goal = goal_make(days=30, target=3_000_000)
    for n in range(1, 8):
        reading(day(n), 90_000)
    with time_machine.travel(at(day(8)), tick=False):
        html = client.get(reverse("admin:goals_goal_change", args=[goal.pk])).content.decode()
    figures = _section(html, 'id="goal-progress-figures"')
    assert "¥630,000 of ¥3,000,000" in figures
    assert "21.0%" in figures
    assert "<th>run rate</th><td>¥90,000 a day" in figures
    # 2,370,000 left over 23 days.
    assert "<th>required per day</th><td>¥103,044 a day" in figures
    assert "¥2,700,000 (between" in figures  # projected total with its band
    assert "behind plan" in figures
    assert 'class="forecast"' in html


def test_runs_decisions_and_reports_are_listed_with_their_links(client, alice):
    client.force_login(alice)
    goal = _planned_goal()
    workflow_run = RunFactory()
    started = run_make(goal, on=day(2), action="cold_outreach", status=GoalRun.Status.SUCCEEDED)
    GoalRun.objects.filter(pk=started.pk).update(run=workflow_run, spend=1_234)
    run_make(goal, on=day(3), action="trial_onboarding", status=GoalRun.Status.FAILED)
    pending = decision_make(goal, asked=at(day(2)), n=1)
    decision_make(goal, asked=at(day(1)), decided=at(day(1), 15), n=2)
    GoalReport.objects.create(
        goal=goal,
        kind=GoalReport.Kind.DAILY,
        period_start=day(2),
        period_end=day(2),
        figures={"headline": "¥400,000 of ¥2,000,000 (20%) — on track"},
        emailed_at=at(day(3), 7),
        recipients=2,
    )
    html = _page(client, goal)
    runs = _section(html, 'id="goal-runs"')
    assert "2026-12-02" in runs and "Succeeded" in runs and "¥1,234" in runs
    assert reverse("admin:workflows_run_change", args=[workflow_run.pk]) in runs
    assert "Failed" in runs
    decisions = _section(html, 'id="goal-queue-link"')
    assert "Raise the outreach volume #1" in decisions and "Pending" in decisions
    assert reverse("admin:decisions_decision_change", args=[pending.pk]) in decisions
    assert reverse("admin:decisions_queue") in decisions
    reports = _section(html, 'id="goal-reports"')
    assert "Daily" in reports and "2026-12-02 – 2026-12-02" in reports
    assert "to 2" in reports and "(20%) — on track" in reports
    monitoring = _section(html, 'id="goal-monitoring"')
    assert "2 (1 decided)" in monitoring and "6.0 hours" in monitoring


def test_the_goal_page_is_read_only_even_for_a_superuser(client, alice):
    client.force_login(alice)
    goal = _saved_goal(client)
    url = reverse("admin:goals_goal_change", args=[goal.pk])
    html = client.get(url).content.decode()
    assert 'name="_save"' not in html
    assert 'name="status"' not in html
    client.post(url, {"status": Goal.Status.ACHIEVED, "text": "changed"})
    goal.refresh_from_db()
    assert goal.status == Goal.Status.PLANNED and goal.text == WEEK


def test_charlie_cannot_see_a_goal(client, alice, charlie):
    client.force_login(alice)
    goal = _saved_goal(client)
    client.force_login(charlie)
    assert client.get(reverse("admin:goals_goal_change", args=[goal.pk])).status_code == 403


# --- cancelling ----------------------------------------------------------------------


def test_alice_cancels_a_goal_and_its_pending_decision_is_withdrawn(client, alice):
    client.force_login(alice)
    goal = _planned_goal()
    pending = decision_make(goal, asked=at(day(2)), n=1)
    assert 'id="goal-cancel"' in _page(client, goal)
    response = client.post(
        reverse("admin:goals_goal_cancel", args=[goal.pk]), {"reason": "changed our minds"}
    )
    assert response.status_code == 302
    goal.refresh_from_db()
    pending.refresh_from_db()
    assert goal.status == Goal.Status.CANCELLED
    assert pending.status == Decision.Status.CANCELLED
    event = AuditEvent.objects.get(action="goals.goal_cancelled")
    assert event.actor == alice and event.data["reason"] == "changed our minds"
    assert event.data["decisions"] == [pending.pk]
    html = _page(client, goal)
    assert 'id="goal-status">Cancelled<' in html and 'id="goal-cancel"' not in html


def test_bob_sees_no_cancel_button_and_cannot_cancel(client, bob):
    goal = _planned_goal()
    client.force_login(bob)
    assert 'id="goal-cancel"' not in _page(client, goal)
    response = client.post(reverse("admin:goals_goal_cancel", args=[goal.pk]))
    assert response.status_code == 403
    goal.refresh_from_db()
    assert goal.status == Goal.Status.ACTIVE
    assert not AuditEvent.objects.filter(action="goals.goal_cancelled").exists()


def test_a_closed_goal_is_not_cancelled(client, alice):
    client.force_login(alice)
    goal = goal_make(status=Goal.Status.ACHIEVED)
    client.post(reverse("admin:goals_goal_cancel", args=[goal.pk]))
    goal.refresh_from_db()
    assert goal.status == Goal.Status.ACHIEVED
    assert not AuditEvent.objects.filter(action="goals.goal_cancelled").exists()


# --- the admin index -----------------------------------------------------------------


def _index(client) -> str:
    with time_machine.travel(at(TODAY), tick=False):
        return client.get(reverse("admin:index")).content.decode()


def test_the_index_shows_active_goals_with_progress_above_the_queue(client, alice):
    client.force_login(alice)
    goal_make()
    # Two sources read the same day: one counts by the documented order (manual first),
    # never the sum and not the larger.
    reading(day(1), 500_000, source="whop")
    reading(day(1), 400_000, source="manual")
    # A reading before the period does not count toward it.
    reading(day(0), 999_999)
    html = _index(client)
    assert 'id="new-goal"' in html
    assert 'value="20"' in html  # 400,000 of 2,000,000
    assert "¥400,000 of ¥2,000,000" in html
    assert "not enough data yet" in html
    assert html.index('id="active-goals"') < html.index('id="approval-queue"')


def test_the_index_marks_where_the_forecast_ends(client, alice):
    client.force_login(alice)
    goal_make(days=30, target=3_000_000)
    for n in range(1, 8):
        reading(day(n), 100_000)
    with time_machine.travel(at(day(8)), tick=False):
        html = client.get(reverse("admin:index")).content.decode()
    assert 'class="goal-forecast-marker" style="left:100%"' in html
    assert "forecast ¥3,000,000" in html


def test_a_goal_without_snapshots_shows_zero(client, alice):
    client.force_login(alice)
    goal_make()
    html = _index(client)
    assert 'value="0"' in html and "¥0 of ¥2,000,000" in html


def test_closed_goals_are_not_on_the_index(client, alice):
    client.force_login(alice)
    goal_make(status=Goal.Status.CANCELLED)
    assert "No active goals." in _index(client)


def test_bob_sees_goals_but_no_new_goal_link_and_charlie_sees_neither(client, bob):
    goal_make()
    client.force_login(bob)
    html = _index(client)
    assert 'id="active-goals"' in html and 'id="new-goal"' not in html


def test_charlie_sees_no_goals_on_the_index(client, charlie):
    goal_make()
    client.force_login(charlie)
    html = _index(client)
    assert 'id="active-goals"' not in html and 'id="new-goal"' not in html


def test_the_index_reads_the_goals_progress_in_a_fixed_number_of_queries(client, alice):
    """One snapshot read for every goal on the index, not one per goal."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(alice)
    goal_make()
    _index(client)  # warm the caches (content types, session)
    with CaptureQueriesContext(connection) as one:
        _index(client)
    for _ in range(2):
        goal_make()
    reading(day(1), 100_000)
    with CaptureQueriesContext(connection) as three:
        html = _index(client)
    assert html.count("of ¥2,000,000") == 3
    assert len(three) == len(one)
