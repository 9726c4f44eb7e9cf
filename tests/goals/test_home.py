"""The home page at ``/`` and its sections (goals.home): who may see it, what each
section shows, and the studio's buttons calling the loop's services.

Personas (tests/personas.py, goals): alice is a superuser; bob is staff who may run the
loop and read goals and tasks, not decide or administer; charlie is staff with nothing.
"""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from decisions.models import AuditEvent, Urgency
from goals import home
from goals.models import LoopState, Task
from goals.services.loop import LoopControlBusy
from tests.goals.factories import IdeaFactory, TaskFactory
from tests.goals.home_setup import decision_pending, goal_behind
from tests.personas import persona_create
from tests.workflows.factories import RunFactory
from workflows.models import Run

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


def _page(client, user) -> str:
    client.force_login(user)
    response = client.get("/")
    assert response.status_code == 200
    return response.content.decode()


def _section(client, user, name: str) -> str:
    client.force_login(user)
    response = client.get(reverse("home:section", args=[name]), **HX)
    assert response.status_code == 200
    return response.content.decode()


def _loop(client, action: str, **headers):
    return client.post(reverse("home:loop", args=[action]), **headers)


def _state() -> str:
    return LoopState.objects.get(pk=LoopState.SINGLETON_ID).state


def test_it_sends_a_visitor_to_the_admin_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/"


def test_it_sends_a_person_without_staff_access_to_the_login(client):
    outsider = persona_create("charlie", app="decisions")  # active, not staff
    client.force_login(outsider)
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_it_lists_pending_decisions_most_urgent_first_with_their_decide_forms(client, alice):
    calm = decision_pending(title="Rename the newsletter", urgency=Urgency.LOW)
    urgent = decision_pending(title="Refund the angry customer", urgency=Urgency.CRITICAL)
    html = _page(client, alice)
    assert html.index("Refund the angry customer") < html.index("Rename the newsletter")
    assert "2 decisions waiting" in html
    for decision in (calm, urgent):
        assert f'hx-post="{reverse("admin:decisions_decide", args=[decision.pk])}"' in html


def test_it_shows_blocked_work_with_a_way_to_act_on_it(client, alice, theme):
    task = TaskFactory(
        theme=theme,
        status=Task.Status.BLOCKED,
        last_error="schema_violation: no ideas in the answer",
        finished_at=timezone.now(),
    )
    html = _page(client, alice)
    assert f'id="home-blocked-{task.pk}"' in html
    assert "schema_violation: no ideas in the answer" in html
    assert "1 blocked task" in html
    assert "Retry or drop" in html


def test_it_says_in_words_that_a_goal_is_behind_with_its_forecast(client, alice):
    goal = goal_behind()
    html = _section(client, alice, "goals")
    row = html[html.index(f'id="home-goal-{goal.pk}"') :]
    row = row[: row.index("</tr>")]
    assert "¥100,000 of ¥1,000,000 (10%)" in row
    assert "forecast: ¥200,000 by the end" in row
    assert "<strong>behind</strong>" in row
    assert "home-goal-behind" in row


def test_it_shows_this_weeks_ideas_best_first(client, alice, theme):
    IdeaFactory(theme=theme, title="Quiet desk lamp", priority=2.0)
    IdeaFactory(theme=theme, title="Sleep-tracking pillow", priority=9.0)
    html = _section(client, alice, "studio")
    assert '<td id="home-ideas-week">2</td>' in html
    assert html.index("Sleep-tracking pillow") < html.index("Quiet desk lamp")


def test_the_studio_buttons_start_pause_resume_and_stop_the_loop(client, bob, theme):
    client.force_login(bob)
    for action, expected in (
        ("start", LoopState.State.RUNNING),
        ("pause", LoopState.State.PAUSED),
        ("resume", LoopState.State.RUNNING),
        ("stop", LoopState.State.STOPPED),
    ):
        response = _loop(client, action, **HX)
        assert response.status_code == 200
        assert _state() == expected
        assert 'id="home-studio"' in response.content.decode()
    events = AuditEvent.objects.filter(action__startswith="goals.loop_").order_by("id")
    assert [(e.action, e.actor_id) for e in events] == [
        ("goals.loop_started", bob.pk),
        ("goals.loop_paused", bob.pk),
        ("goals.loop_resumed", bob.pk),
        ("goals.loop_stopped", bob.pk),
    ]


def test_a_plain_post_comes_back_to_the_home_page(client, bob, theme):
    client.force_login(bob)
    response = _loop(client, "start")
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert _state() == LoopState.State.RUNNING


def test_the_studio_says_why_it_cannot_start_without_a_theme(client, bob):
    client.force_login(bob)
    response = _loop(client, "start", **HX)
    assert "The studio cannot start: no theme is loaded yet." in response.content.decode()
    assert not LoopState.objects.filter(state=LoopState.State.RUNNING).exists()
    assert not AuditEvent.objects.filter(action="goals.loop_started").exists()


def test_it_refuses_the_studio_buttons_to_staff_without_the_permission(client, charlie, theme):
    client.force_login(charlie)
    assert _loop(client, "start", **HX).status_code == 403
    assert not AuditEvent.objects.filter(action="goals.loop_started").exists()
    html = client.get(reverse("home:section", args=["studio"]), **HX).content.decode()
    assert "home:loop" not in html and "/home/studio/loop/" not in html


def test_a_loop_button_takes_only_a_post_and_a_known_action(client, bob, theme):
    client.force_login(bob)
    assert client.get(reverse("home:loop", args=["start"])).status_code == 405
    assert _loop(client, "explode").status_code == 404
    assert not AuditEvent.objects.filter(action__startswith="goals.loop_").exists()


def test_it_lists_todays_failed_runs_with_links_to_them(client, alice):
    failed = RunFactory(status=Run.Status.FAILED, error="the shop's API answered 503")
    RunFactory(status=Run.Status.SUCCEEDED)
    html = _section(client, alice, "workflows")
    assert "2 runs today" in html
    assert reverse("admin:workflows_run_change", args=[failed.pk]) in html
    assert "the shop&#x27;s API answered 503" in html


def test_system_is_for_superusers_only(client, alice, bob):
    html = _page(client, alice)
    assert 'id="home-system"' in html
    assert reverse("admin:django_q_schedule_changelist") in _section(client, alice, "system")
    client.logout()
    html = _page(client, bob)
    assert 'id="home-system"' not in html
    assert client.get(reverse("home:section", args=["system"]), **HX).status_code == 403


def test_the_page_renders_needs_you_and_loads_the_other_sections_at_once(client, alice):
    html = _page(client, alice)
    assert 'hx-get="/home/needs-you/" hx-trigger="every 15s"' in html
    for section in ("goals", "studio", "workflows", "system"):
        assert f'hx-get="/home/{section}/" hx-trigger="load"' in html


@pytest.mark.parametrize("section", ["needs-you", "goals", "studio", "workflows", "system"])
def test_each_section_answers_alone_for_htmx_to_poll(client, alice, section):
    client.force_login(alice)
    response = client.get(reverse("home:section", args=[section]), **HX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith(f'<section id="home-{section}"')
    assert f'hx-get="/home/{section}/" hx-trigger="every 15s"' in html


def test_an_unknown_section_is_not_found(client, alice):
    client.force_login(alice)
    assert client.get(reverse("home:section", args=["nothing"]), **HX).status_code == 404


def test_a_button_whose_change_the_busy_database_refused_says_so(client, bob, theme, monkeypatch):
    """``LoopControlBusy`` (the write lock stayed taken for the whole bounded wait): the
    section says nothing changed and to try again; the loop is as it was."""

    def busy(**_):
        raise LoopControlBusy("the database stayed locked by other writers for 120 s")

    monkeypatch.setattr(home, "loop_start", busy)
    client.force_login(bob)
    html = _loop(client, "start", **HX).content.decode()
    assert "The studio was not changed: the database stayed busy" in html
    assert _state() != LoopState.State.RUNNING
