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
from django.urls import reverse
from django.utils import timezone

from goals.models import Goal, MetricSnapshot, PlanRevision

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


# --- the goal page -------------------------------------------------------------------


def test_the_goal_page_shows_sentence_understanding_plan_chart_and_revisions(client, alice, bob):
    client.force_login(alice)
    goal = _saved_goal(client)
    client.force_login(bob)
    response = client.get(reverse("admin:goals_goal_change", args=[goal.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert WEEK in html
    assert 'class="goal-understood"' in html and "Read by the rules" in html
    assert "285,715" in html
    assert "<svg" in html and "not enough data" in html
    assert 'class="goal-revisions"' in html and "First plan" in html


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


def test_the_chart_forecasts_with_a_week_of_snapshots(client, alice):
    client.force_login(alice)
    goal = _saved_goal(client, "30日で300万作りたい")
    for i in range(7):
        MetricSnapshot.objects.create(
            source=MetricSnapshot.Source.MANUAL,
            metric="revenue",
            date=goal.period_start + dt.timedelta(days=i),
            value=100_000,
            currency="JPY",
        )
    html = client.get(reverse("admin:goals_goal_change", args=[goal.pk])).content.decode()
    assert "achieved 700,000 JPY of 3,000,000 JPY" in html
    assert "forecast at the run rate: 3,000,000" in html


# --- the admin index -----------------------------------------------------------------


def test_the_index_shows_active_goals_with_progress_above_the_queue(client, alice):
    client.force_login(alice)
    goal = _saved_goal(client)
    # Two sources read the same day: the larger reading counts, never the sum.
    for source, value in ((MetricSnapshot.Source.WHOP, 500_000), ("manual", 400_000)):
        MetricSnapshot.objects.create(
            source=source, metric="revenue", date=goal.period_start, value=value, currency="JPY"
        )
    # A reading before the period does not count toward it.
    MetricSnapshot.objects.create(
        source="manual",
        metric="revenue",
        date=goal.period_start - dt.timedelta(days=1),
        value=999_999,
        currency="JPY",
    )
    html = client.get(reverse("admin:index")).content.decode()
    assert 'id="new-goal"' in html
    assert 'value="25"' in html  # 500,000 of 2,000,000
    assert "500,000 JPY of 2,000,000 JPY" in html
    assert html.index('id="active-goals"') < html.index('id="approval-queue"')


def test_a_goal_without_snapshots_shows_zero(client, alice):
    client.force_login(alice)
    _saved_goal(client)
    html = client.get(reverse("admin:index")).content.decode()
    assert 'value="0"' in html and "0 JPY of 2,000,000 JPY" in html


def test_closed_goals_are_not_on_the_index(client, alice):
    client.force_login(alice)
    goal = _saved_goal(client)
    Goal.objects.filter(pk=goal.pk).update(status=Goal.Status.CANCELLED, updated_at=timezone.now())
    html = client.get(reverse("admin:index")).content.decode()
    assert "No active goals." in html


def test_bob_sees_goals_but_no_new_goal_link_and_charlie_sees_neither(client, alice, bob):
    client.force_login(alice)
    _saved_goal(client)
    client.force_login(bob)
    html = client.get(reverse("admin:index")).content.decode()
    assert 'id="active-goals"' in html and 'id="new-goal"' not in html


def test_charlie_sees_no_goals_on_the_index(client, alice, charlie):
    client.force_login(alice)
    _saved_goal(client)
    client.force_login(charlie)
    html = client.get(reverse("admin:index")).content.decode()
    assert 'id="active-goals"' not in html and 'id="new-goal"' not in html


def test_the_index_reads_the_goals_progress_in_a_fixed_number_of_queries(client, alice):
    """One snapshot read for every goal on the index, not one per goal."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(alice)
    _saved_goal(client)
    client.get(reverse("admin:index"))  # warm the caches (content types, session)
    with CaptureQueriesContext(connection) as one:
        client.get(reverse("admin:index"))
    for _ in range(2):
        assert _start(client).status_code == 302
    with CaptureQueriesContext(connection) as three:
        html = client.get(reverse("admin:index")).content.decode()
    assert html.count("of 2,000,000 JPY") == 3
    assert len(three) == len(one)
