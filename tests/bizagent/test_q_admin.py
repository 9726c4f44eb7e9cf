"""django-q2's admin (schedules, task results, queued tasks) is for superusers only.

A Schedule or queued task names any importable function (``builtins.open`` included), so a
staff user who could add or change one would run code outside governance.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse
from django_q.models import Failure, OrmQ, Schedule, Success

Q_MODELS = (Schedule, Success, Failure, OrmQ)


@pytest.fixture
def dave(db):
    """Staff, holding every django_q permission there is, but not a superuser."""
    user = get_user_model().objects.create_user(username="dave", password="x", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="django_q"))
    return user


@pytest.fixture
def root(db):
    return get_user_model().objects.create_superuser(username="root", password="x", email="")


@pytest.fixture
def schedule(db):
    return Schedule.objects.create(name="harmless", func="math.floor", args="1.5")


def admin_url(model, view: str, *args) -> str:
    return reverse(f"admin:django_q_{model._meta.model_name}_{view}", args=args)


@pytest.mark.parametrize("model", Q_MODELS, ids=lambda m: m.__name__)
def test_it_refuses_the_lists_to_staff_with_every_django_q_permission(client, dave, model):
    client.force_login(dave)
    assert client.get(admin_url(model, "changelist")).status_code == 403


def test_it_refuses_staff_adding_a_schedule_that_runs_any_function(client, dave):
    client.force_login(dave)
    assert client.get(admin_url(Schedule, "add")).status_code == 403
    response = client.post(
        admin_url(Schedule, "add"),
        {
            "name": "evil",
            "func": "builtins.open",
            "args": "'/tmp/owned','w'",
            "schedule_type": Schedule.ONCE,
            "repeats": "-1",
        },
    )
    assert response.status_code == 403
    assert not Schedule.objects.filter(func="builtins.open").exists()


def test_it_refuses_staff_changing_or_deleting_a_schedule(client, dave, schedule):
    client.force_login(dave)
    assert client.get(admin_url(Schedule, "change", schedule.pk)).status_code == 403
    response = client.post(
        admin_url(Schedule, "change", schedule.pk),
        {"name": "harmless", "func": "builtins.open", "schedule_type": Schedule.ONCE},
    )
    assert response.status_code == 403
    assert client.post(admin_url(Schedule, "delete", schedule.pk), {"post": "yes"}).status_code == (
        403
    )
    schedule.refresh_from_db()
    assert schedule.func == "math.floor"


def test_the_admin_index_does_not_show_django_q_to_staff(client, dave):
    client.force_login(dave)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    assert "django_q" not in response.content.decode()
    assert client.get(reverse("admin:app_list", args=("django_q",))).status_code == 404


def test_a_superuser_still_manages_schedules_and_sees_the_queue(client, root, schedule):
    client.force_login(root)
    assert "/admin/django_q/" in client.get(reverse("admin:index")).content.decode()
    for model in Q_MODELS:
        assert client.get(admin_url(model, "changelist")).status_code == 200
    assert client.get(admin_url(Schedule, "add")).status_code == 200
    assert client.get(admin_url(Schedule, "change", schedule.pk)).status_code == 200
    response = client.post(
        admin_url(Schedule, "change", schedule.pk),
        {
            "name": "harmless",
            "func": "math.ceil",
            "args": "1.5",
            "schedule_type": Schedule.ONCE,
            "repeats": "-1",
            "minutes": "",
            "cron": "",
            "next_run_0": "2030-01-01",
            "next_run_1": "00:00:00",
            "cluster": "",
            "intended_date_kwarg": "",
            "hook": "",
            "kwargs": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    schedule.refresh_from_db()
    assert schedule.func == "math.ceil"
