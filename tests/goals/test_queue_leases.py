"""The task queue claims through bizagent.leases: a live lease keeps the task, a lapsed
one (its worker died) makes it claimable again, and only the holder renews or ends it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from goals.models import Task
from goals.services.queue import (
    LeaseLost,
    task_claim_next,
    task_complete,
    task_create,
    task_leases_expire,
    task_leases_renew,
)

# The claim runs another path on PostgreSQL (SELECT … FOR UPDATE SKIP LOCKED).
pytestmark = pytest.mark.postgres


@pytest.fixture
def leased(theme, settings):
    settings.GOALS_LEASE_SECONDS = 60
    task_create(theme=theme, kind="generate")
    now = timezone.now()
    task = task_claim_next(theme=theme, worker="alice-worker", now=now)
    assert task is not None
    return task, now


def test_the_claim_writes_an_expiring_lease(leased):
    task, now = leased
    assert task.status == Task.Status.RUNNING
    assert task.lease_owner == "alice-worker"
    assert task.lease_expires_at == now + dt.timedelta(seconds=60)


def test_a_live_lease_is_not_claimable(theme, leased):
    _, now = leased
    later = now + dt.timedelta(seconds=59)
    assert task_leases_expire(now=later) == []
    assert task_claim_next(theme=theme, worker="bob-worker", now=later) is None


def test_a_lapsed_lease_is_claimable_again(theme, leased):
    task, now = leased
    later = now + dt.timedelta(seconds=61)
    assert task_leases_expire(now=later) == [task.pk]
    again = task_claim_next(theme=theme, worker="bob-worker", now=later)
    assert again is not None and again.pk == task.pk and again.lease_owner == "bob-worker"
    # The first worker, back from the dead, can neither renew nor complete it.
    assert task_leases_renew(worker="alice-worker", now=later) == 0
    with pytest.raises(LeaseLost):
        task_complete(task=task, worker="alice-worker", now=later)


def test_only_the_holder_renews(leased):
    task, now = leased
    later = now + dt.timedelta(seconds=30)
    assert task_leases_renew(worker="bob-worker", now=later) == 0
    assert task_leases_renew(worker="alice-worker", now=later) == 1
    task.refresh_from_db()
    assert task.lease_expires_at == later + dt.timedelta(seconds=60)
