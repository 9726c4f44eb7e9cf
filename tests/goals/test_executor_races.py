"""Two executors at once (threads, each on its own connection) on PostgreSQL.

The unique (goal, action, day, attempt) row decides who starts an action; the row lock
decides who creates the run of a pending row; the guarded move started → succeeded
decides who records the spend. Run with ``tests/pg.sh`` and ``-m postgres``.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from decisions.models import AuditEvent, BudgetSpend
from decisions.services import budget_create
from goals.models import GoalRun
from goals.services import executor
from goals.services.executor import goal_run_due, goals_execute_due
from tests.concurrency import run_together
from tests.goals.executor_helpers import (
    NOW,
    TODAY,
    UNIT_COST,
    action,
    goal_active,
    outreach_workflow,
)
from workflows.models import Run

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

#: No HTTP call happens here (runs are only queued), so any base URL will do.
BASE_URL = "http://127.0.0.1:9"


def test_two_ticks_at_once_start_one_run():
    outreach_workflow(base_url=BASE_URL)
    goal = goal_active()

    results, errors = run_together(lambda i: goals_execute_due(now=NOW), 4)

    assert errors == []
    assert sum(len(r.started) for r in results) == 1
    assert GoalRun.objects.filter(goal=goal).count() == 1
    assert Run.objects.count() == 1
    assert AuditEvent.objects.filter(action="goals.goal_run_started").count() == 1
    assert AuditEvent.objects.filter(action="goals.goal_run_pending").count() == 1


def test_two_launches_of_one_pending_row_create_one_run():
    outreach_workflow(base_url=BASE_URL)
    goal = goal_active()
    pending_id = goal_run_due(
        goal=goal, revision=goal.revisions.get(), action=action(), day=TODAY, now=NOW
    )
    assert pending_id is not None

    results, errors = run_together(
        lambda i: executor.goal_run_launch(goal_run_id=pending_id, report=executor.ExecuteReport()),
        4,
    )

    assert errors == [] and sorted(results) == [False, False, False, True]
    assert Run.objects.count() == 1
    assert GoalRun.objects.get(pk=pending_id).run_id == Run.objects.get().pk


def test_two_follow_ups_at_once_record_the_spend_once():
    outreach_workflow(base_url=BASE_URL)
    goal = goal_active()
    budget = budget_create(name="Goal budget", limit=10_000, period="monthly", scope=goal)
    goals_execute_due(now=NOW)
    goal_run = GoalRun.objects.get(goal=goal)
    # The engine ended the run (what run_drain would do with a model at hand).
    Run.objects.filter(pk=goal_run.run_id).update(status=Run.Status.SUCCEEDED)

    results, errors = run_together(
        lambda i: executor.goal_run_finish(
            goal_run_id=goal_run.pk, report=executor.ExecuteReport()
        ),
        4,
    )

    assert errors == [] and sorted(results) == [False, False, False, True]
    goal_run.refresh_from_db()
    assert goal_run.status == GoalRun.Status.SUCCEEDED
    assert goal_run.spend == UNIT_COST * 5
    spends = BudgetSpend.objects.filter(budget=budget, source=executor.SPEND_SOURCE)
    assert [s.amount for s in spends] == [Decimal(UNIT_COST * 5)]
    assert AuditEvent.objects.filter(action="goals.goal_run_succeeded").count() == 1
