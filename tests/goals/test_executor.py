"""The executor (``goals.services.executor``): plans become workflow runs, once a day.

Everything is real but the model and the outside API: the workflows are published
through the definition services, the runs are queued to the engine's queue (the ORM
broker) and executed by the engine's own executor (``run_drain`` plays the workers),
the ``llm`` step talks vLLM's wire protocol to the fake gpt-oss server, and the ``http``
step calls a loopback server.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django_q.models import OrmQ

from decisions.models import AuditEvent, BudgetSpend
from decisions.services import budget_create
from goals.models import CatalogueItem, Goal, GoalRun
from goals.services import executor
from goals.services.catalogue import WORKFLOWS_DIR
from goals.services.executor import goal_run_due, goals_execute_due
from goals.services.schedules import SCHEDULES
from tests.fake_gptoss import FakeGptOss, FakeReply
from tests.goals.executor_helpers import (
    CATALOGUE_KEY,
    HTTP_COST,
    NOW,
    TODAY,
    UNIT_COST,
    action,
    goal_active,
    outreach_workflow,
    plan_revise,
)
from tests.goals.test_catalogue_workflows import PROSPECTS, Sink, sink  # noqa: F401
from tests.llm_backends import llm_settings_point
from tests.workflows.engine_blocks import run_drain
from tests.workflows.factories import workflow_published
from tests.workflows.loopback_http import LoopbackServer, loopback_server  # noqa: F401
from workflows.models import Run, RunTrigger

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake(fake_gptoss: FakeGptOss, settings: Any) -> FakeGptOss:
    llm_settings_point(settings, fake_gptoss)
    return fake_gptoss


@pytest.fixture
def server(loopback_server: LoopbackServer, settings: Any) -> LoopbackServer:  # noqa: F811
    settings.HTTP_ALLOWED_HOSTS = ["127.0.0.1"]
    return loopback_server


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=True) as traveller:
        yield traveller


def _drain(goal_run: GoalRun) -> Run:
    goal_run.refresh_from_db()
    assert goal_run.run is not None
    return run_drain(goal_run.run)


def _queued_step_tasks() -> int:
    return OrmQ.objects.count()


def test_a_tick_starts_one_run_per_action_and_a_second_tick_starts_nothing(
    server, clock, django_capture_on_commit_callbacks
):
    outreach_workflow(base_url=server.url(""))
    outreach_workflow(base_url=server.url(""), key="goal-briefing")
    goal = goal_active(
        actions=[action(), action(workflow="goal-briefing", catalogue="briefing_post", sends=1)]
    )

    with django_capture_on_commit_callbacks(execute=True):
        first = goals_execute_due()
    second = goals_execute_due()

    rows = list(GoalRun.objects.filter(goal=goal).order_by("action"))
    assert [(r.action, r.status, r.attempt, r.day) for r in rows] == [
        ("briefing_post", GoalRun.Status.STARTED, 1, TODAY),
        (CATALOGUE_KEY, GoalRun.Status.STARTED, 1, TODAY),
    ]
    assert len(first.started) == 2 and second.started == []
    runs = Run.objects.filter(trigger=RunTrigger.GOAL)
    assert runs.count() == 2
    run = rows[1].run
    assert run is not None and run.subject == f"goals.goal_run:{rows[1].pk}"
    # The run's input is the plan's params plus what the schema asks and the goal knows.
    assert run.input == {"sends_per_day": 5, "goal_id": goal.pk, "day": TODAY.isoformat()}
    # Both runs wait in the engine's queue for workers (parallel), none ran in the tick.
    assert set(runs.values_list("status", flat=True)) == {Run.Status.QUEUED}
    assert _queued_step_tasks() == 2
    assert AuditEvent.objects.filter(action="goals.goal_run_started").count() == 2


def test_the_run_executes_on_the_engine_and_its_spend_is_recorded_once(fake, server, clock):
    outreach_workflow(base_url=server.url(""))
    goal = goal_active()
    budget = budget_create(name="Goal budget", limit=10_000, period="monthly", scope=goal)
    fake.enqueue(FakeReply(final="Hello, a short email."))

    goals_execute_due()
    goal_run = GoalRun.objects.get(goal=goal)
    run = _drain(goal_run)
    assert run.status == Run.Status.SUCCEEDED
    assert f"Goal {goal.pk} on {TODAY}: 5 emails." in fake.requests[0].prompt_text

    report = goals_execute_due()
    goals_execute_due()
    executor.goal_run_finish(goal_run_id=goal_run.pk, report=executor.ExecuteReport())

    goal_run.refresh_from_db()
    assert report.succeeded == [goal_run.pk]
    assert goal_run.status == GoalRun.Status.SUCCEEDED
    # The run's cost (the http call's declared 7 JPY) + 3 JPY × 5 planned sends.
    assert goal_run.spend == HTTP_COST + UNIT_COST * 5
    spends = BudgetSpend.objects.filter(budget=budget, source=executor.SPEND_SOURCE)
    assert [s.amount for s in spends] == [Decimal(HTTP_COST + UNIT_COST * 5)]
    assert AuditEvent.objects.filter(action="goals.goal_run_succeeded").count() == 1
    # Succeeded today with these parameters: nothing more runs today.
    assert GoalRun.objects.filter(goal=goal).count() == 1


def test_without_a_goal_budget_the_global_one_gets_only_the_units(fake, server, clock):
    outreach_workflow(base_url=server.url(""))
    goal = goal_active()
    global_budget = budget_create(name="Everything", limit=10_000, period="monthly")
    fake.enqueue(FakeReply(final="Hello."))

    goals_execute_due()
    _drain(GoalRun.objects.get(goal=goal))
    goals_execute_due()

    # The engine already recorded the run's model/API cost against the global budget.
    by_source = {s.source: s.amount for s in BudgetSpend.objects.filter(budget=global_budget)}
    assert by_source == {
        "workflows.step": Decimal(HTTP_COST),
        executor.SPEND_SOURCE: Decimal(UNIT_COST * 5),
    }


def test_a_failing_workflow_is_retried_up_to_three_attempts_then_stops(fake, server, clock):
    outreach_workflow(base_url=server.url(""), fail=True)
    goal = goal_active()

    for attempt in (1, 2, 3):
        fake.enqueue(FakeReply(final="Hello."))
        goals_execute_due()
        goal_run = GoalRun.objects.get(goal=goal, attempt=attempt)
        assert _drain(goal_run).status == Run.Status.FAILED
        goals_execute_due()  # follows up: failed; the retry waits for its backoff
        goal_run.refresh_from_db()
        assert goal_run.status == GoalRun.Status.FAILED
        assert not GoalRun.objects.filter(goal=goal, attempt=attempt + 1).exists()
        clock.shift(executor.RETRY_BACKOFF * attempt + dt.timedelta(seconds=1))

    goals_execute_due()
    goals_execute_due()

    rows = list(GoalRun.objects.filter(goal=goal).order_by("attempt"))
    assert [(r.attempt, r.status) for r in rows] == [(n, GoalRun.Status.FAILED) for n in (1, 2, 3)]
    assert "500" in rows[2].error and "s3cr3t-token" not in rows[2].error
    gave_up = AuditEvent.objects.filter(action="goals.goal_run_gave_up")
    assert gave_up.count() == 1 and gave_up.get().data["attempts"] == 3
    assert Run.objects.filter(trigger=RunTrigger.GOAL).count() == 3


def test_a_crash_between_the_row_and_the_run_is_finished_by_the_next_tick(server, clock):
    outreach_workflow(base_url=server.url(""))
    goal = goal_active()
    revision = goal.revisions.get()
    # The crash: the pending row was written, then the process died.
    pending_id = goal_run_due(goal=goal, revision=revision, action=action(), day=TODAY, now=NOW)
    assert pending_id is not None

    soon = goals_execute_due()
    assert soon.started == []  # within the lease: left to the tick that wrote it
    assert Run.objects.count() == 0

    clock.shift(executor.PENDING_LEASE + dt.timedelta(seconds=1))
    later = goals_execute_due()
    goals_execute_due()

    assert later.started == [pending_id]
    goal_run = GoalRun.objects.get(goal=goal)
    assert goal_run.pk == pending_id and goal_run.status == GoalRun.Status.STARTED
    assert Run.objects.count() == 1 and goal_run.run_id == Run.objects.get().pk


def test_a_pending_row_whose_run_exists_is_not_given_a_second_run(server, clock):
    """Belt and braces: a run already made for the row (looked up by its subject)."""
    workflow = outreach_workflow(base_url=server.url(""))
    goal = goal_active()
    pending_id = goal_run_due(
        goal=goal, revision=goal.revisions.get(), action=action(), day=TODAY, now=NOW
    )
    existing = Run.objects.create(
        workflow=workflow, trigger=RunTrigger.GOAL, subject=f"goals.goal_run:{pending_id}"
    )

    executor.goal_run_launch(goal_run_id=pending_id, report=executor.ExecuteReport())

    assert Run.objects.count() == 1
    assert GoalRun.objects.get(pk=pending_id).run_id == existing.pk


@pytest.mark.parametrize(
    "status", [Goal.Status.CANCELLED, Goal.Status.AWAITING_APPROVAL, Goal.Status.ACHIEVED]
)
def test_a_goal_that_is_not_active_starts_nothing(server, clock, status):
    outreach_workflow(base_url=server.url(""))
    goal_active(status=status)

    report = goals_execute_due()

    assert report.started == [] and GoalRun.objects.count() == 0 and Run.objects.count() == 0


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (TODAY + dt.timedelta(days=1), TODAY + dt.timedelta(days=7)),
        (TODAY - dt.timedelta(days=7), TODAY - dt.timedelta(days=1)),
    ],
)
def test_a_day_outside_the_period_starts_nothing(server, clock, start, end):
    outreach_workflow(base_url=server.url(""))
    goal_active(start=start, end=end)

    assert goals_execute_due().started == []
    assert GoalRun.objects.count() == 0


def test_a_goal_without_an_approved_plan_starts_nothing(server, clock):
    outreach_workflow(base_url=server.url(""))
    goal = goal_active()
    goal.revisions.update(approved_at=None, decision_id=1)

    assert goals_execute_due().started == [] and GoalRun.objects.count() == 0


def test_an_unpublished_workflow_is_skipped_with_the_reason(clock):
    goal = goal_active(actions=[action(workflow="never-published")])

    report = goals_execute_due()
    goals_execute_due()

    goal_run = GoalRun.objects.get(goal=goal)
    assert report.skipped == [goal_run.pk]
    assert goal_run.status == GoalRun.Status.SKIPPED
    assert "never-published" in goal_run.error and "no published version" in goal_run.error
    assert Run.objects.count() == 0
    assert AuditEvent.objects.filter(action="goals.goal_run_skipped").count() == 1


def test_new_params_mid_day_run_once_more_and_the_same_params_do_not(fake, server, clock):
    outreach_workflow(base_url=server.url(""))
    goal = goal_active()
    fake.enqueue(FakeReply(final="a"), FakeReply(final="b"))
    goals_execute_due()
    _drain(GoalRun.objects.get(goal=goal))
    goals_execute_due()

    plan_revise(goal=goal, number=2, actions=[action()])  # same params, new revision
    assert goals_execute_due().started == []

    plan_revise(goal=goal, number=3, actions=[action(sends=8)])
    started = goals_execute_due().started
    goals_execute_due()

    assert len(started) == 1
    second = GoalRun.objects.get(pk=started[0])
    assert (second.attempt, second.params, second.revision.number) == (
        2,
        {"sends_per_day": 8},
        3,
    )
    assert second.run is not None and second.run.input["sends_per_day"] == 8


def test_input_the_workflow_refuses_fails_with_the_message_and_is_not_retried(server, clock):
    outreach_workflow(base_url=server.url(""))
    goal = goal_active(
        actions=[{"workflow": "goal-outreach", "catalogue": CATALOGUE_KEY, "params": {}}]
    )

    goals_execute_due()
    clock.shift(dt.timedelta(hours=2))
    goals_execute_due()

    goal_run = GoalRun.objects.get(goal=goal)
    assert goal_run.status == GoalRun.Status.FAILED
    assert "sends_per_day" in goal_run.error
    assert Run.objects.count() == 0


def test_a_tick_is_bounded_and_the_next_one_takes_the_rest(server, clock, monkeypatch):
    outreach_workflow(base_url=server.url(""))
    goals = [goal_active() for _ in range(3)]
    monkeypatch.setattr(executor, "GOALS_PER_TICK", 2)

    first = goals_execute_due()
    second = goals_execute_due()

    assert len(first.started) == 2 and len(second.started) == 1
    assert {r.goal_id for r in GoalRun.objects.all()} == {g.pk for g in goals}


def test_the_tick_is_scheduled_every_minute():
    assert SCHEDULES["goals.execute"] == ("goals.tasks.goals_execute_task", 1)


def test_the_task_returns_what_the_tick_did(server, clock):
    from goals.tasks import goals_execute_task

    outreach_workflow(base_url=server.url(""))
    goal_active()

    assert goals_execute_task().startswith("started 1,")


def test_the_run_error_is_kept_without_its_secrets(server, clock):
    workflow = outreach_workflow(base_url=server.url(""))
    goal = goal_active()
    pending_id = goal_run_due(
        goal=goal, revision=goal.revisions.get(), action=action(), day=TODAY, now=NOW
    )
    executor.goal_run_launch(goal_run_id=pending_id, report=executor.ExecuteReport())
    run = GoalRun.objects.get(pk=pending_id).run
    assert run is not None and run.workflow_id == workflow.pk
    Run.objects.filter(pk=run.pk).update(
        status=Run.Status.FAILED,
        error="send failed: https://bot:hunter2@api.example.test/send?token=s3cr3t-token",
    )

    goals_execute_due()

    goal_run = GoalRun.objects.get(pk=pending_id)
    assert goal_run.status == GoalRun.Status.FAILED
    assert "send failed" in goal_run.error and "api.example.test" in goal_run.error
    assert "hunter2" not in goal_run.error and "s3cr3t-token" not in goal_run.error
    failed = AuditEvent.objects.get(action="goals.goal_run_failed")
    assert "s3cr3t-token" not in str(failed.data) and "hunter2" not in str(failed.data)


def test_the_catalogue_outreach_workflow_runs_and_is_costed_by_what_it_sent(
    fake: FakeGptOss,
    sink: Sink,  # noqa: F811
    clock,
):
    """The shipped cold-outreach document, published, run for a plan asking 5 sends a day
    while the prospect list has 3: the spend counts the 3 the run reports sending."""
    document = (WORKFLOWS_DIR / "cold-outreach.json").read_text(encoding="utf-8")
    workflow_published(json.loads(document))
    params = {
        "sends_per_day": 5,
        "prospects_url": sink.url("/prospects"),
        "email_api_url": sink.url("/mail"),
        "language": "en",
        "product": "Invoice app",
        "sender": "Aiko",
    }
    goal = goal_active(
        actions=[{"workflow": "cold-outreach", "catalogue": CATALOGUE_KEY, "params": params}]
    )
    budget = budget_create(name="Goal budget", limit=10_000, period="monthly", scope=goal)
    messages = [{"id": p["id"], "subject": "Invoices", "body": "Hi"} for p in PROSPECTS]
    fake.enqueue(FakeReply(final=json.dumps({"messages": messages})))

    goals_execute_due()
    run = _drain(GoalRun.objects.get(goal=goal))
    assert run.status == Run.Status.SUCCEEDED, run.error
    goals_execute_due()

    goal_run = GoalRun.objects.get(goal=goal)
    assert goal_run.status == GoalRun.Status.SUCCEEDED
    assert run.output["sends"] == len(PROSPECTS) == 3
    assert goal_run.spend == UNIT_COST * 3
    assert [s.amount for s in BudgetSpend.objects.filter(budget=budget)] == [Decimal(9)]


def test_the_catalogue_items_run_inputs_reach_the_run_under_the_plans_params(
    fake: FakeGptOss,
    sink: Sink,  # noqa: F811
    clock,
):
    """A person configures where prospects come from once, on the catalogue item; the plan
    only says how many a day. The run gets both, and the plan's volume wins a clash."""
    document = (WORKFLOWS_DIR / "cold-outreach.json").read_text(encoding="utf-8")
    workflow_published(json.loads(document))
    CatalogueItem.objects.filter(key=CATALOGUE_KEY).update(
        run_inputs={
            "prospects_url": sink.url("/prospects"),
            "email_api_url": sink.url("/mail"),
            "language": "en",
            "product": "Invoice app",
            "sender": "Aiko",
        }
    )
    goal = goal_active(
        actions=[
            {
                "workflow": "cold-outreach",
                "catalogue": CATALOGUE_KEY,
                "params": {"sends_per_day": 2},
            }
        ]
    )
    messages = [{"id": p["id"], "subject": "Invoices", "body": "Hi"} for p in PROSPECTS[:2]]
    fake.enqueue(FakeReply(final=json.dumps({"messages": messages})))

    goals_execute_due()
    run = _drain(GoalRun.objects.get(goal=goal))

    assert run.status == Run.Status.SUCCEEDED, run.error
    assert run.input["sends_per_day"] == 2
    assert run.input["prospects_url"] == sink.url("/prospects")
    assert run.input["sender"] == "Aiko"
    assert run.output["sends"] == 2
