"""``task_leases_expire``'s written-out read of the lapsed leases: the rows the ORM form
read (running, lease before now, to the microsecond), by id; and the service still gives
exactly those back. Run on SQLite and on PostgreSQL (``DATABASE_URL=postgres://...``)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from bizagent.sql import rows_fetch
from goals.models import Task
from goals.services.queue import _leases_lapsed_sql, task_leases_expire
from tests.goals.factories import TaskFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

NOW = dt.datetime(2026, 11, 29, 9, 0, 0, tzinfo=dt.UTC)
#: Lease ends around NOW: microseconds before, at, after, and whole seconds either side.
ENDS = [
    NOW - dt.timedelta(hours=1),
    NOW - dt.timedelta(microseconds=1),
    NOW,
    NOW + dt.timedelta(microseconds=1),
    NOW - dt.timedelta(seconds=1),
    NOW + dt.timedelta(seconds=1),
    NOW - dt.timedelta(microseconds=500_000),
]


def _tasks(theme) -> list[Task]:
    tasks = []
    for i, ends in enumerate(ENDS):
        task = TaskFactory(theme=theme, kind="generate", priority=i)
        Task.objects.filter(pk=task.pk).update(
            status=Task.Status.RUNNING, lease_owner=f"w{i}", lease_expires_at=ends, lease_losses=i
        )
        tasks.append(task)
    TaskFactory(theme=theme, kind="refine")  # ready, never leased
    done = TaskFactory(theme=theme, kind="critique")
    Task.objects.filter(pk=done.pk).update(
        status=Task.Status.DONE, lease_expires_at=NOW - dt.timedelta(hours=2)
    )
    return tasks


def _orm_form(now: dt.datetime) -> list[tuple]:
    return list(
        Task.objects.filter(status=Task.Status.RUNNING, lease_expires_at__lt=now)
        .order_by("pk")
        .values_list("pk", "lease_owner", "lease_losses")
    )


@pytest.mark.parametrize("offset_us", [-1, 0, 1, 500_000])
def test_the_lapsed_leases_are_the_orm_rows(theme, offset_us):
    _tasks(theme)
    now = NOW + dt.timedelta(microseconds=offset_us)
    read = rows_fetch(
        _leases_lapsed_sql(),
        [Task.Status.RUNNING.value, connection.ops.adapt_datetimefield_value(now)],
    )
    expected = _orm_form(now)
    assert expected, "the set-up has lapsed leases"
    assert [tuple(row) for row in read] == expected


def test_the_service_gives_back_exactly_the_lapsed_tasks(theme):
    tasks = _tasks(theme)
    lapsed = [pk for pk, _, _ in _orm_form(NOW)]
    assert task_leases_expire(now=NOW) == lapsed
    assert set(
        Task.objects.filter(pk__in=lapsed).values_list("status", "lease_owner").distinct()
    ) <= {(Task.Status.READY, ""), (Task.Status.BLOCKED, "")}
    still = [task.pk for task in tasks if task.pk not in lapsed]
    assert set(Task.objects.filter(pk__in=still).values_list("status", flat=True)) == {
        Task.Status.RUNNING
    }
    assert task_leases_expire(now=NOW) == []
