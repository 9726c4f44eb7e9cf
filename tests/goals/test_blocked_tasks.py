"""Blocked tasks reach a person: ``task_retry`` and ``task_drop`` (guarded, audited,
race-safe, permission-checked), and the "Blocked work: needs you" section of the admin
index that calls them.

Personas (tests/personas.py): alice may change tasks, bob may only view them, charlie has no
permission.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone

from decisions.models import AuditEvent
from goals.models import Task
from goals.services import TaskTransitionError, task_drop, task_retry
from tests.concurrency import run_together
from tests.goals.factories import TaskFactory, ThemeFactory

pytestmark = pytest.mark.django_db


def _blocked(theme, **kwargs) -> Task:
    defaults = {
        "status": Task.Status.BLOCKED,
        "attempts": 3,
        "lease_losses": 2,
        "last_error": "schema_violation: the answer had no ideas",
        "finished_at": timezone.now(),
    }
    return TaskFactory(theme=theme, **{**defaults, **kwargs})


# --- services ----------------------------------------------------------------------------


def test_retry_puts_a_blocked_task_back_with_fresh_attempts(theme, alice):
    task = _blocked(theme)
    task_retry(task=task, actor=alice)
    task.refresh_from_db()
    assert (task.status, task.attempts, task.lease_losses) == (Task.Status.READY, 0, 0)
    assert task.finished_at is None
    event = AuditEvent.objects.get(action="goals.task_retried")
    assert (event.actor, event.data["to"]) == (alice, "ready")


def test_drop_ends_a_blocked_task_for_good(theme, alice):
    task = _blocked(theme)
    task_drop(task=task, actor=alice)
    task.refresh_from_db()
    assert task.status == Task.Status.DROPPED
    assert task.last_error.startswith("schema_violation")  # the reason stays on record
    event = AuditEvent.objects.get(action="goals.task_dropped")
    assert event.actor == alice


@pytest.mark.parametrize("service", [task_retry, task_drop])
@pytest.mark.parametrize("status", ["ready", "done", "failed", "dropped"])
def test_only_a_blocked_task_can_be_retried_or_dropped(theme, alice, service, status):
    task = TaskFactory(theme=theme, status=status)
    with pytest.raises(TaskTransitionError, match="not blocked"):
        service(task=task, actor=alice)
    task.refresh_from_db()
    assert task.status == status
    assert not AuditEvent.objects.filter(action__in=["goals.task_retried", "goals.task_dropped"])


@pytest.mark.parametrize("service", [task_retry, task_drop])
def test_it_needs_the_change_permission(theme, bob, charlie, service):
    task = _blocked(theme)
    for person in (bob, charlie, None):
        with pytest.raises(PermissionDenied):
            service(task=task, actor=person)
    task.refresh_from_db()
    assert task.status == Task.Status.BLOCKED
    assert not AuditEvent.objects.filter(action__startswith="goals.task_")


def test_retry_refuses_when_the_same_work_is_already_queued(theme, alice):
    task = _blocked(theme, kind="snapshot", dedupe_key="snapshot")
    TaskFactory(theme=theme, kind="snapshot", dedupe_key="snapshot")
    with pytest.raises(TaskTransitionError, match="same key"):
        task_retry(task=task, actor=alice)
    task.refresh_from_db()
    assert task.status == Task.Status.BLOCKED


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_of_a_retry_and_a_drop_at_once_exactly_one_wins(alice):
    theme = ThemeFactory()
    task = _blocked(theme)
    services = (task_retry, task_drop)

    def act(index: int) -> str:
        try:
            services[index](task=Task.objects.get(pk=task.pk), actor=alice)
            return "won"
        except TaskTransitionError:
            return "lost"

    results, errors = run_together(act, 2)
    assert not errors, errors
    assert sorted(results) == ["lost", "won"]
    task.refresh_from_db()
    assert task.status in (Task.Status.READY, Task.Status.DROPPED)
    assert (
        AuditEvent.objects.filter(action__in=["goals.task_retried", "goals.task_dropped"]).count()
        == 1
    )


# --- the admin index ---------------------------------------------------------------------


def test_the_index_shows_blocked_work_first_with_buttons(client, alice, theme):
    task = _blocked(theme)
    TaskFactory(theme=theme)  # ready: not a person's business
    client.force_login(alice)
    html = client.get(reverse("admin:index")).content.decode()
    assert "Blocked work: needs you" in html
    # At the top: before the list of apps.
    assert html.index("Blocked work: needs you") < html.index('id="content-main"')
    row = html[html.index(f'id="blocked-task-{task.pk}"') :]
    row = row[: row.index("</tr>")]
    assert "Generate" in row and theme.name in row
    assert "schema_violation: the answer had no ideas" in row
    assert reverse("admin:goals_task_retry", args=[task.pk]) in row
    assert reverse("admin:goals_task_drop", args=[task.pk]) in row
    assert "csrfmiddlewaretoken" in row
    assert html.count('class="blocked-task"') == 1


def test_the_index_says_nothing_when_nothing_is_blocked(client, alice, theme):
    TaskFactory(theme=theme)
    client.force_login(alice)
    assert "Blocked work" not in client.get(reverse("admin:index")).content.decode()


def test_bob_sees_blocked_work_but_no_buttons(client, bob, theme):
    task = _blocked(theme)
    client.force_login(bob)
    html = client.get(reverse("admin:index")).content.decode()
    assert f'id="blocked-task-{task.pk}"' in html
    assert reverse("admin:goals_task_retry", args=[task.pk]) not in html
    response = client.post(reverse("admin:goals_task_retry", args=[task.pk]))
    assert response.status_code == 403
    task.refresh_from_db()
    assert task.status == Task.Status.BLOCKED


def test_charlie_sees_no_blocked_work(client, charlie, theme):
    _blocked(theme)
    client.force_login(charlie)
    assert "Blocked work" not in client.get(reverse("admin:index")).content.decode()


def test_a_plain_post_retries_and_returns_to_the_index(client, alice, theme):
    task = _blocked(theme)
    client.force_login(alice)
    response = client.post(reverse("admin:goals_task_retry", args=[task.pk]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("admin:index")
    assert f"Task {task.pk} is back in the queue" in response.content.decode()
    task.refresh_from_db()
    assert task.status == Task.Status.READY


def test_an_htmx_post_drops_in_place(client, alice, theme):
    task = _blocked(theme)
    other = _blocked(theme)
    client.force_login(alice)
    response = client.post(reverse("admin:goals_task_drop", args=[task.pk]), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert f"task {task.pk} was dropped" in html
    assert f'id="blocked-task-{task.pk}"' not in html
    assert f'id="blocked-task-{other.pk}"' in html
    task.refresh_from_db()
    assert task.status == Task.Status.DROPPED


def test_a_second_click_is_told_someone_else_dealt_with_it(client, alice, theme):
    task = _blocked(theme)
    client.force_login(alice)
    client.post(reverse("admin:goals_task_drop", args=[task.pk]), HTTP_HX_REQUEST="true")
    response = client.post(
        reverse("admin:goals_task_retry", args=[task.pk]), HTTP_HX_REQUEST="true"
    )
    assert "someone else has already dealt with it" in response.content.decode()
    task.refresh_from_db()
    assert task.status == Task.Status.DROPPED


def test_retry_and_drop_need_a_post(client, alice, theme):
    task = _blocked(theme)
    client.force_login(alice)
    assert client.get(reverse("admin:goals_task_retry", args=[task.pk])).status_code == 405
    assert client.get(reverse("admin:goals_task_drop", args=[task.pk])).status_code == 405
