"""Admin: the task queue, the iteration log and the self-refreshing loop panel.

Personas (tests/personas.py): alice is a superuser, bob is staff who may view and change
the loop, charlie is staff with no permission on goals.
"""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from goals.models import Iteration, LoopState, Task
from goals.services import loop_start
from goals.services.loop import loop_state_get
from tests.goals.factories import TaskFactory

pytestmark = pytest.mark.django_db


def _iteration(theme, **kwargs) -> Iteration:
    now = timezone.now()
    defaults = {
        "theme": theme,
        "number": 1,
        "role": "ideator",
        "mode": "explore",
        "outcome": "ok",
        "started_at": now,
        "finished_at": now,
        "analysis": "<b>secret reasoning</b>",
        "final": '{"ideas": []}',
    }
    return Iteration.objects.create(**{**defaults, **kwargs})


def test_the_panel_refreshes_itself_with_htmx(client, alice, theme):
    loop_start()
    client.force_login(alice)
    response = client.get(reverse("admin:goals_loopstate_changelist"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'hx-trigger="every 5s"' in html
    assert reverse("admin:goals_loopstate_panel") in html
    assert "htmx" in html  # the script tag
    assert "Iterations per hour" in html
    assert "Pause" in html


def test_the_partial_shows_state_task_and_last_error(client, bob, theme):
    task = TaskFactory(
        theme=theme, status=Task.Status.RUNNING, lease_owner="w", lease_expires_at=timezone.now()
    )
    LoopState.objects.update_or_create(
        pk=1,
        defaults={
            "state": "backing_off",
            "current_task": task,
            "current_role": "ideator",
            "last_error_class": "unreachable",
            "last_error": "connection refused",
            "last_error_at": timezone.now(),
            "backoff_until": timezone.now() + timezone.timedelta(minutes=1),
        },
    )
    client.force_login(bob)
    response = client.get(reverse("admin:goals_loopstate_panel"), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert f"#{task.pk}" in html
    assert "[unreachable] connection refused" in html
    assert "Backing off" in html


def test_pause_and_resume_post_with_csrf(client, bob, theme):
    loop_start()
    client.force_login(bob)
    response = client.get(reverse("admin:goals_loopstate_changelist"))
    assert "csrfmiddlewaretoken" in response.content.decode()
    response = client.post(reverse("admin:goals_loopstate_pause"), {"reason": "checking"})
    assert response.status_code == 302
    state = loop_state_get()
    assert (state.state, state.reason) == ("paused", "checking")
    response = client.post(reverse("admin:goals_loopstate_resume"), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert loop_state_get().state == "running"
    assert "Pause" in response.content.decode()


def test_pause_needs_a_post(client, bob, theme):
    client.force_login(bob)
    assert client.get(reverse("admin:goals_loopstate_pause")).status_code == 405


def test_charlie_cannot_see_or_pause_the_loop(client, charlie, theme):
    loop_start()
    client.force_login(charlie)
    assert client.get(reverse("admin:goals_loopstate_changelist")).status_code == 403
    assert client.post(reverse("admin:goals_loopstate_pause")).status_code == 403
    assert loop_state_get().state == "running"


def test_the_iteration_log_collapses_the_analysis(client, alice, theme):
    it = _iteration(theme)
    client.force_login(alice)
    html = client.get(reverse("admin:goals_iteration_change", args=[it.pk])).content.decode()
    assert "<details" in html
    assert "&lt;b&gt;secret reasoning&lt;/b&gt;" in html
    assert client.get(reverse("admin:goals_iteration_changelist")).status_code == 200


def test_the_task_queue_lists_and_requeues(client, alice, theme):
    task = TaskFactory(theme=theme, status=Task.Status.BLOCKED, attempts=3)
    client.force_login(alice)
    url = reverse("admin:goals_task_changelist")
    assert client.get(url).status_code == 200
    client.post(url, {"action": "requeue", "_selected_action": [task.pk]})
    task.refresh_from_db()
    assert task.status == Task.Status.READY


def test_bob_cannot_requeue_without_change_permission(client, bob, theme):
    task = TaskFactory(theme=theme, status=Task.Status.BLOCKED, attempts=3)
    client.force_login(bob)
    client.post(
        reverse("admin:goals_task_changelist"), {"action": "requeue", "_selected_action": [task.pk]}
    )
    task.refresh_from_db()
    assert task.status == Task.Status.BLOCKED


def test_the_loop_state_has_no_edit_form(client, alice, theme):
    loop_start()
    client.force_login(alice)
    url = reverse("admin:goals_loopstate_change", args=[1])
    response = client.post(url, {"state": "stopped"})
    assert response.status_code == 302
    assert loop_state_get().state == "running"


def test_the_panel_says_the_loop_waits_for_a_theme(client, bob, theme):
    loop_start()
    theme.status = "archived"
    theme.save()
    client.force_login(bob)
    response = client.get(reverse("admin:goals_loopstate_panel"), HTTP_HX_REQUEST="true")
    assert "waiting for a theme" in response.content.decode()
