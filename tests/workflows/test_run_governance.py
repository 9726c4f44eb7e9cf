"""Run-time governance: a step that would send to 500+ recipients (or delete 100+
records) waits for a person; approving resumes it, refusing fails it; under the lines
it runs at once. The step is the real http block against a loopback API. And spend:
a run that takes a budget past its line asks a person (the budget overrun decision)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from decisions.models import AuditEvent, Budget, BudgetSpend, Decision
from decisions.services import (
    DecisionNotPending,
    DecisionPremiseFailed,
    budget_create,
    decision_apply,
    decision_approve,
    decision_expire_due,
    decision_reject,
)
from tests.concurrency import run_together
from tests.personas import person_create
from tests.workflows.engine_blocks import run_drain, workflow_build
from tests.workflows.factories import approver
from tests.workflows.loopback_http import LoopbackServer
from workflows.models import Run, StepRun
from workflows.services.catchup import workflows_catch_up
from workflows.services.governance import STEP_APPROVE_ACTION, config_digest
from workflows.services.runs import run_cancel, run_start
from workflows.services.spend import spend_currency

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _loopback_allowed(settings):
    settings.HTTP_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.AUTO_EXECUTION_ENABLED = True


@pytest.fixture
def enqueued(monkeypatch):
    sent: list[int] = []
    monkeypatch.setattr(
        "workflows.services.enqueue.async_task", lambda func, pk, **kw: sent.append(pk)
    )
    return sent


def mailing(server: LoopbackServer, *, kind: str = "send", path: str = "/echo", **step):
    """notify (http POST declaring its effect from the input) → done."""
    return workflow_build(
        steps=[
            {
                "name": "notify",
                "block": "http",
                "config": {
                    "method": "POST",
                    "url": server.url(path),
                    "json": {"to": "{{ input.to }}"},
                    "effect": {"kind": kind, "count": "{{ input.to }}"},
                },
                **step,
            },
            {"name": "done", "block": "test-echo", "config": {"value": "sent"}},
        ],
        edges=[("notify", "out", "done")],
        output={"status": "{{ steps.notify.output.status }}"},
    )


def recipients(n: int) -> dict:
    return {"to": [f"r{i}@example.com" for i in range(n)]}


def posts(server: LoopbackServer) -> int:
    return sum(1 for r in server.received if r.method == "POST")


def waiting_run(server: LoopbackServer, alice, n: int = 500, **step) -> tuple[Run, Decision]:
    run = run_start(workflow=mailing(server, **step), input=recipients(n), triggered_by=alice)
    run = run_drain(run)
    return run, Decision.objects.get(action=STEP_APPROVE_ACTION)


def test_499_recipients_run_at_once(loopback_server, alice, enqueued):
    run = run_start(workflow=mailing(loopback_server), input=recipients(499), triggered_by=alice)
    run = run_drain(run)
    assert run.status == Run.Status.SUCCEEDED, run.error
    assert run.output == {"status": 200}
    assert posts(loopback_server) == 1
    assert not Decision.objects.exists()
    event = AuditEvent.objects.get(action="workflows.step_effect_allowed")
    assert event.data["count"] == 499 and event.data["kind"] == "mass_send"


def test_500_recipients_wait_and_ask_a_person(loopback_server, alice, enqueued):
    run, decision = waiting_run(loopback_server, alice, 500)
    assert run.status == Run.Status.WAITING
    notify = run.step_runs.get(step__name="notify")
    assert notify.status == StepRun.Status.WAITING
    assert notify.attempt == 0  # waiting is not an attempt at running the block
    assert posts(loopback_server) == 0  # nothing was sent
    assert decision.status == Decision.Status.PENDING
    assert decision.kind == "mass_send"
    assert decision.subject_id == str(notify.pk)
    assert decision.requested_by == alice
    assert decision.action_args["count"] == 500
    assert decision.action_args["digest"] == config_digest(notify.input)
    assert "500 recipients" in decision.situation and "notify" in decision.situation
    assert notify.input["json"]["to"][0] == "r0@example.com"  # what the person approves
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"workflows.run_waiting", "workflows.step_waiting"} <= actions
    assert not run.step_runs.filter(step__name="done").exists()


def test_100_records_to_delete_wait_too(loopback_server, alice, enqueued):
    run = run_start(
        workflow=mailing(loopback_server, kind="delete"), input=recipients(100), triggered_by=alice
    )
    run = run_drain(run)
    assert run.status == Run.Status.WAITING
    assert Decision.objects.get().kind == "mass_deletion"


def test_approval_resumes_the_step_and_the_run_succeeds(loopback_server, alice, enqueued):
    run, decision = waiting_run(loopback_server, alice)
    notify = run.step_runs.get(step__name="notify")
    decision_approve(decision_id=decision.pk, user=approver())
    applied = decision_apply(decision_id=decision.pk)
    assert applied.status == Decision.Status.APPLIED, applied.outcome
    notify.refresh_from_db()
    run.refresh_from_db()
    assert (notify.status, run.status) == (StepRun.Status.PENDING, Run.Status.RUNNING)
    event = AuditEvent.objects.get(action="workflows.step_approved")
    assert event.actor == approver() and event.data["decision"] == decision.pk
    run = run_drain(run)
    assert run.status == Run.Status.SUCCEEDED, run.error
    assert posts(loopback_server) == 1
    assert Decision.objects.count() == 1  # not asked again when it ran


def test_approval_queues_the_step_after_commit(
    loopback_server, alice, enqueued, django_capture_on_commit_callbacks
):
    run, decision = waiting_run(loopback_server, alice)
    notify = run.step_runs.get(step__name="notify")
    decision_approve(decision_id=decision.pk, user=approver())
    enqueued.clear()
    with django_capture_on_commit_callbacks(execute=True):
        decision_apply(decision_id=decision.pk)
    assert enqueued == [notify.pk]


def test_rejection_fails_the_step_and_the_run_with_the_reason(loopback_server, alice, enqueued):
    run, decision = waiting_run(loopback_server, alice)
    decision_reject(decision_id=decision.pk, user=approver(), comment="too many at once")
    done = workflows_catch_up()
    notify = run.step_runs.get(step__name="notify")
    assert done.refused == [notify.pk]
    run.refresh_from_db()
    assert notify.status == StepRun.Status.FAILED
    assert notify.error_class == "refused"
    assert notify.error_message == (
        f"a person refused: dora rejected decision #{decision.pk}: too many at once"
    )
    assert run.status == Run.Status.FAILED and "a person refused" in run.error
    assert posts(loopback_server) == 0
    assert AuditEvent.objects.filter(action="workflows.step_refused").count() == 1
    assert workflows_catch_up().refused == []  # settled once


def test_an_expired_decision_fails_the_step(loopback_server, alice, enqueued):
    run, decision = waiting_run(loopback_server, alice)
    decision_expire_due(now=decision.due_at + timedelta(seconds=1))
    workflows_catch_up()
    notify = run.step_runs.get(step__name="notify")
    assert notify.status == StepRun.Status.FAILED
    assert notify.error_message == f"a person refused: decision #{decision.pk} expired unanswered"
    run.refresh_from_db()
    assert run.status == Run.Status.FAILED


def test_a_pending_decision_leaves_the_step_waiting(loopback_server, alice, enqueued):
    run, _ = waiting_run(loopback_server, alice)
    assert workflows_catch_up(now=timezone.now() + timedelta(minutes=5)).refused == []
    assert run.step_runs.get(step__name="notify").status == StepRun.Status.WAITING


def test_the_same_approved_step_is_not_asked_twice(loopback_server, alice, enqueued):
    # The far side fails (503) and the step, idempotent, retries: the retry runs on the
    # approval it already has.
    run, decision = waiting_run(
        loopback_server,
        alice,
        path="/status/503",
        idempotent=True,
        retry={"attempts": 2, "on": ["upstream"]},
    )
    decision_approve(decision_id=decision.pk, user=approver())
    decision_apply(decision_id=decision.pk)
    run = run_drain(run)
    notify = run.step_runs.get(step__name="notify")
    assert posts(loopback_server) == 2  # both attempts ran
    assert notify.attempt == 2
    assert Decision.objects.count() == 1
    assert run.status == Run.Status.FAILED and notify.error_class == "upstream"


def test_approving_a_step_whose_run_was_cancelled_is_refused(loopback_server, alice, enqueued):
    run, decision = waiting_run(loopback_server, alice)
    run_cancel(run_id=run.pk, actor=alice)
    with pytest.raises(DecisionPremiseFailed):
        decision_approve(decision_id=decision.pk, user=approver())
    assert posts(loopback_server) == 0


def test_an_effect_count_that_is_not_a_number_is_a_config_error(loopback_server, alice, enqueued):
    run = run_start(workflow=mailing(loopback_server), input={"to": "everyone"}, triggered_by=alice)
    run = run_drain(run)
    notify = run.step_runs.get(step__name="notify")
    assert notify.status == StepRun.Status.FAILED and notify.error_class == "config"
    assert "effect.count" in notify.error_message
    assert posts(loopback_server) == 0


def test_a_tool_call_past_the_line_is_refused_not_left_waiting(loopback_server, alice, enqueued):
    workflow = workflow_build(
        steps=[
            {
                "name": "agent",
                "block": "test-tools",
                "config": {"calls": [{"name": "notify", "args": recipients(500)}]},
            },
            {
                "name": "notify",
                "block": "http",
                "tool_only": True,
                "config": {
                    "method": "POST",
                    "url": loopback_server.url("/echo"),
                    "effect": {"kind": "send", "count": "{{ input.to }}"},
                },
            },
        ],
    )
    run = run_drain(run_start(workflow=workflow, input={}, triggered_by=alice))
    tool = StepRun.objects.get(run=run, step__name="notify")
    assert tool.status == StepRun.Status.FAILED and tool.error_class == "refused"
    assert "cannot wait" in tool.error_message
    assert run.status == Run.Status.FAILED
    assert not Decision.objects.exists() and posts(loopback_server) == 0


@pytest.mark.django_db(transaction=True)
def test_two_approvers_at_once_resume_the_step_once(loopback_server, alice, enqueued):
    run, decision = waiting_run(loopback_server, alice)
    people = [approver(), person_create("erin", permissions=["decisions.approve_decision"])]
    enqueued.clear()  # the run's start
    results, errors = run_together(
        lambda i: decision_approve(decision_id=decision.pk, user=people[i]), 2
    )
    assert len(results) == 1 and len(errors) == 1
    assert isinstance(errors[0], DecisionNotPending | ValidationError)
    results, errors = run_together(lambda i: decision_apply(decision_id=decision.pk), 2)
    assert not errors
    decision.refresh_from_db()
    assert decision.status == Decision.Status.APPLIED
    assert AuditEvent.objects.filter(action="workflows.step_approved").count() == 1
    notify = run.step_runs.get(step__name="notify")
    assert enqueued.count(notify.pk) == 1
    run = run_drain(run)
    assert run.status == Run.Status.SUCCEEDED and posts(loopback_server) == 1


# -- spend against budgets ----------------------------------------------------------------


def spender(cost: int):
    return workflow_build(
        steps=[
            {"name": "a", "block": "test-echo", "config": {"value": 1, "cost": cost}},
            {"name": "b", "block": "test-echo", "config": {"value": 2}},
        ],
        edges=[("a", "out", "b")],
    )


def test_a_run_past_a_budgets_limit_asks_a_person_to_raise_it(alice, enqueued):
    budget = budget_create(name="all", limit=100, period="monthly")
    run = run_drain(run_start(workflow=spender(500), input={}, triggered_by=alice))
    decision = Decision.objects.get(kind="budget_overrun")
    assert decision.status == Decision.Status.PENDING
    assert decision.action == "decisions.budget_limit_set"
    assert decision.action_args["budget_id"] == budget.pk
    assert BudgetSpend.objects.get(budget=budget).amount == Decimal(500)
    event = AuditEvent.objects.for_subject(run).get(action="workflows.run_over_budget")
    assert event.data == {"budget": budget.pk, "decision": decision.pk, "kind": "budget_overrun"}


def test_a_second_run_over_the_same_budget_is_tied_to_the_open_decision(alice, enqueued):
    budget_create(name="all", limit=100, period="monthly")
    first = run_drain(run_start(workflow=spender(500), input={}, triggered_by=alice))
    second = run_drain(run_start(workflow=first.workflow, input={}, triggered_by=alice))
    decision = Decision.objects.get(kind="budget_overrun")  # one decision, not two
    for run in (first, second):
        event = AuditEvent.objects.for_subject(run).get(action="workflows.run_over_budget")
        assert event.data["decision"] == decision.pk


def test_spend_within_the_budget_asks_nothing(alice, enqueued):
    budget_create(name="all", limit=10**9, period="monthly")
    run = run_drain(run_start(workflow=spender(5), input={}, triggered_by=alice))
    assert run.status == Run.Status.SUCCEEDED
    assert not Decision.objects.exists()
    assert not AuditEvent.objects.filter(action="workflows.run_over_budget").exists()


def test_cost_is_in_the_decisions_apps_currency(alice, enqueued):
    assert spend_currency() == Budget._meta.get_field("currency").get_default() == "JPY"
    yen = budget_create(name="yen", limit=10**9, period="monthly", currency="JPY")
    dollars = budget_create(name="dollars", limit=10**9, period="monthly", currency="USD")
    run_drain(run_start(workflow=spender(7), input={}, triggered_by=alice))
    assert BudgetSpend.objects.get(budget=yen).amount == Decimal(7)
    assert not BudgetSpend.objects.filter(budget=dollars).exists()


def test_workflow_run_wait_says_the_run_waits_for_a_decision(loopback_server):
    """``workflow run --wait`` on a step that asked first stops at once and names the
    decision (exit 3), instead of polling until its timeout."""
    import json

    from django.core.management import call_command
    from django.core.management.base import CommandError

    workflow = mailing(loopback_server)
    with pytest.raises(CommandError) as refused:
        call_command(
            "workflow", "run", str(workflow.pk), "--input", json.dumps(recipients(500)), "--wait"
        )
    decision = Decision.objects.get(action=STEP_APPROVE_ACTION)
    assert refused.value.returncode == 3
    assert f"decision #{decision.pk}" in str(refused.value)
    assert Run.objects.get().status == Run.Status.WAITING
    assert posts(loopback_server) == 0
