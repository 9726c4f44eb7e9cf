"""The step executor: straight through, parallel branches, joins and skips, ports,
on_error, retries, leases, timeouts, variables and spend."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from decisions.models import AuditEvent, Budget, BudgetSpend
from tests.workflows.engine_blocks import ATTEMPTS, HOOKS, run_drain, workflow_build
from workflows.blocks.base import BlockBudgetExhausted
from workflows.models import Run, RunTrigger, StepRun, Workflow
from workflows.services.execution import Runner, step_run_execute
from workflows.services.runs import run_cancel, run_start

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clean():
    ATTEMPTS.clear()
    HOOKS.clear()


@pytest.fixture
def enqueued(monkeypatch):
    """Step run ids queued on django-q2 (after commit)."""
    sent: list[int] = []
    monkeypatch.setattr(
        "workflows.services.enqueue.async_task", lambda func, pk, **kw: sent.append(pk)
    )
    return sent


def start(workflow, input=None, **kw):
    return run_start(
        workflow=workflow, input=input or {}, triggered_by=None, trigger=RunTrigger.API, **kw
    )


def statuses(run):
    return {sr.step.name: sr.status for sr in run.step_runs.filter(parent__isnull=True)}


def test_a_chain_runs_straight_through_in_one_task():
    workflow = workflow_build(
        steps=[
            {"name": "a", "block": "test-echo", "config": {"value": {"n": "{{ input.n }}"}}},
            {"name": "b", "block": "test-echo", "config": {"value": "got {{ steps.a.output.n }}"}},
            {"name": "c", "block": "test-echo", "config": {"value": "{{ steps.b.output }}"}},
        ],
        edges=[("a", "out", "b"), ("b", "out", "c")],
        output={"answer": "{{ steps.c.output }}", "n": "{{ steps.a.output.n }}"},
    )
    run = start(workflow, {"n": 7})
    first = run.step_runs.get()
    assert step_run_execute(step_run_id=first.pk) == 3
    run.refresh_from_db()
    assert run.status == Run.Status.SUCCEEDED
    assert run.output == {"answer": "got 7", "n": 7}
    assert statuses(run) == {"a": "succeeded", "b": "succeeded", "c": "succeeded"}
    assert run.step_runs.get(step__name="b").input == {"value": "got 7"}
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"workflows.run_queued", "workflows.run_started", "workflows.run_succeeded"} <= actions


def test_a_redelivered_task_is_a_no_op():
    workflow = workflow_build(steps=[{"name": "a", "block": "test-echo", "config": {"value": 1}}])
    run = start(workflow)
    first = run.step_runs.get()
    assert step_run_execute(step_run_id=first.pk) == 1
    assert step_run_execute(step_run_id=first.pk) == 0
    assert ATTEMPTS["run:a"] == 1


def test_parallel_branches_go_on_with_one_and_queue_the_others(
    enqueued, django_capture_on_commit_callbacks
):
    workflow = workflow_build(
        steps=[
            {"name": "a", "block": "test-echo", "config": {"value": 1}},
            {"name": "b", "block": "test-echo", "config": {"value": "b"}},
            {"name": "c", "block": "test-echo", "config": {"value": "c"}},
            {
                "name": "join",
                "block": "test-echo",
                "config": {"value": ["{{ steps.b.output }}", "{{ steps.c.output }}"]},
            },
        ],
        edges=[("a", "out", "b"), ("a", "out", "c"), ("b", "out", "join"), ("c", "out", "join")],
        output={"both": "{{ steps.join.output }}"},
    )
    run = start(workflow)
    first = run.step_runs.get()
    with django_capture_on_commit_callbacks(execute=True):
        recorded = step_run_execute(step_run_id=first.pk)
    # a, then one branch; the join waits for the other branch, which was queued.
    assert recorded == 2
    assert len(enqueued) == 1
    other = StepRun.objects.get(pk=enqueued[0])
    assert other.status == StepRun.Status.PENDING and other.step.name in ("b", "c")
    assert not run.step_runs.filter(step__name="join").exists()
    with django_capture_on_commit_callbacks(execute=True):
        assert step_run_execute(step_run_id=other.pk) == 2  # the branch, then the join
    run.refresh_from_db()
    assert run.status == Run.Status.SUCCEEDED
    assert run.output == {"both": ["b", "c"]}
    assert ATTEMPTS["run:join"] == 1


def test_a_port_not_taken_skips_its_branch_and_the_skip_propagates():
    workflow = workflow_build(
        steps=[
            {"name": "check", "block": "test-echo", "config": {"value": 1, "port": "true"}},
            {"name": "yes", "block": "test-echo", "config": {"value": "y"}},
            {"name": "no", "block": "test-echo", "config": {"value": "n"}},
            {"name": "after_no", "block": "test-echo", "config": {"value": "n2"}},
            {"name": "end", "block": "test-echo", "config": {"value": "end"}},
        ],
        edges=[
            ("check", "true", "yes"),
            ("check", "false", "no"),
            ("no", "out", "after_no"),
            ("yes", "out", "end"),
            ("after_no", "out", "end"),
        ],
    )
    run = run_drain(start(workflow))
    assert run.status == Run.Status.SUCCEEDED
    assert statuses(run) == {
        "check": "succeeded",
        "yes": "succeeded",
        "no": "skipped",
        "after_no": "skipped",
        "end": "succeeded",
    }
    assert ATTEMPTS["run:no"] == ATTEMPTS["run:after_no"] == 0


def test_a_join_with_no_edge_taken_is_skipped():
    workflow = workflow_build(
        steps=[
            {"name": "check", "block": "test-echo", "config": {"value": 1, "port": "true"}},
            {"name": "no", "block": "test-echo", "config": {"value": "n"}},
            {"name": "other", "block": "test-echo", "config": {"value": "o"}},
            {"name": "join", "block": "test-echo", "config": {"value": "j"}},
        ],
        edges=[
            ("check", "false", "no"),
            ("check", "true", "other"),
            ("no", "out", "join"),
            ("other", "false", "join"),
        ],
    )
    run = run_drain(start(workflow))
    assert statuses(run)["join"] == "skipped"
    assert run.status == Run.Status.SUCCEEDED


def test_a_retryable_failure_is_retried_until_it_succeeds():
    workflow = workflow_build(
        steps=[
            {
                "name": "flaky",
                "block": "test-fail",
                "config": {"times": 2, "error": "upstream"},
                "retry": {"attempts": 3, "backoff": "exponential", "delay_seconds": 0},
            }
        ],
        output={"out": "{{ steps.flaky.output }}"},
    )
    run = run_drain(start(workflow))
    assert run.status == Run.Status.SUCCEEDED
    step_run = run.step_runs.get()
    assert step_run.attempt == 3 and step_run.output == {"attempts": 3}
    failures = AuditEvent.objects.filter(action="workflows.step_failed")
    assert [event.data["retry"] for event in failures.order_by("id")] == [True, True]


def test_a_retry_waits_its_backoff(monkeypatch):
    workflow = workflow_build(
        steps=[
            {
                "name": "flaky",
                "block": "test-fail",
                "config": {"times": 1},
                "retry": {"attempts": 2, "backoff": "constant", "delay_seconds": 120},
            }
        ]
    )
    run = start(workflow)
    step_run = run.step_runs.get()
    before = timezone.now()
    step_run_execute(step_run_id=step_run.pk)
    step_run.refresh_from_db()
    # A long backoff is not slept in the worker: the catch-up queues it when due.
    assert step_run.status == StepRun.Status.PENDING
    assert step_run.run_after >= before + timedelta(seconds=120)
    assert step_run_execute(step_run_id=step_run.pk) == 0
    assert ATTEMPTS["run:flaky"] == 1


def test_errors_not_named_in_on_are_not_retried():
    workflow = workflow_build(
        steps=[
            {
                "name": "flaky",
                "block": "test-fail",
                "config": {"times": 1, "error": "config"},
                "retry": {"attempts": 3, "on": ["timeout"]},
            }
        ]
    )
    run = run_drain(start(workflow))
    assert run.status == Run.Status.FAILED
    assert ATTEMPTS["run:flaky"] == 1
    assert "flaky" in run.error and "config" in run.error


def test_a_side_effect_is_retried_only_when_the_step_is_idempotent():
    steps = [
        {
            "name": "send",
            "block": "test-fail-effect",
            "config": {"times": 1},
            "retry": {"attempts": 3},
        }
    ]
    run = run_drain(start(workflow_build(steps=steps, key="plain")))
    assert run.status == Run.Status.FAILED and ATTEMPTS["run:send"] == 1
    ATTEMPTS.clear()
    steps[0]["idempotent"] = True
    run = run_drain(start(workflow_build(steps=steps, key="idem")))
    assert run.status == Run.Status.SUCCEEDED and ATTEMPTS["run:send"] == 2


@pytest.mark.parametrize(
    ("on_error", "output", "port", "next_step"),
    [
        ("continue", None, "out", "after"),
        ("default_output", {"fallback": True}, "out", "after"),
        ("error_branch", None, "error", "handler"),
    ],
)
def test_on_error_handles_the_failure(on_error, output, port, next_step):
    workflow = workflow_build(
        steps=[
            {
                "name": "bad",
                "block": "test-fail",
                "config": {"times": 9, "error": "config"},
                "on_error": on_error,
                "default_output": {"fallback": True},
            },
            {"name": "after", "block": "test-echo", "config": {"value": "a"}},
            {"name": "handler", "block": "test-echo", "config": {"value": "h"}},
        ],
        edges=[("bad", "out", "after"), ("bad", "error", "handler")],
    )
    run = run_drain(start(workflow))
    bad = run.step_runs.get(step__name="bad")
    assert bad.status == StepRun.Status.HANDLED_ERROR
    assert (bad.output, bad.port, bad.error_class) == (output, port, "config")
    assert statuses(run)[next_step] == "succeeded"
    assert run.status == Run.Status.PARTIALLY_SUCCEEDED


def test_a_failing_step_fails_the_run_and_nothing_new_starts(
    enqueued, django_capture_on_commit_callbacks
):
    workflow = workflow_build(
        steps=[
            {"name": "a", "block": "test-echo", "config": {"value": 1}},
            {"name": "bad", "block": "test-fail", "config": {"times": 9, "error": "config"}},
            {"name": "other", "block": "test-echo", "config": {"value": 2}},
            {"name": "after_bad", "block": "test-echo", "config": {"value": 3}},
        ],
        edges=[("a", "out", "bad"), ("a", "out", "other"), ("bad", "out", "after_bad")],
    )
    run = start(workflow)
    with django_capture_on_commit_callbacks(execute=True):
        step_run_execute(step_run_id=run.step_runs.get().pk)
    run.refresh_from_db()
    assert run.status == Run.Status.FAILED
    assert "step bad failed" in run.error
    assert AuditEvent.objects.filter(action="workflows.run_failed").count() == 1
    # The other branch was queued before the failure; it does not start now.
    assert step_run_execute(step_run_id=enqueued[0]) == 0
    assert ATTEMPTS["run:other"] == 0
    assert not run.step_runs.filter(step__name="after_bad").exists()


def test_a_template_that_does_not_resolve_is_a_template_error():
    workflow = workflow_build(
        steps=[{"name": "a", "block": "test-echo", "config": {"value": "{{ input.missing }}"}}]
    )
    run = run_drain(start(workflow))
    step_run = run.step_runs.get()
    assert step_run.status == StepRun.Status.FAILED
    assert step_run.error_class == "template"
    assert "missing" in step_run.error_message
    assert ATTEMPTS["run:a"] == 0


def test_a_step_over_its_time_limit_fails_with_a_timeout():
    workflow = workflow_build(
        steps=[
            {"name": "slow", "block": "test-sleep", "config": {"seconds": 5}, "timeout_seconds": 1}
        ]
    )
    run = run_drain(start(workflow))
    step_run = run.step_runs.get()
    assert (step_run.status, step_run.error_class) == ("failed", "timeout")
    assert run.status == Run.Status.FAILED


def test_a_worker_that_lost_its_lease_records_nothing():
    def cancel_meanwhile(ctx):
        run_cancel(run_id=ctx.run_id, actor=None)
        return "late"

    HOOKS["cancel"] = cancel_meanwhile
    workflow = workflow_build(
        steps=[
            {"name": "a", "block": "test-hook", "config": {"hook": "cancel"}},
            {"name": "b", "block": "test-echo", "config": {"value": 1}},
        ],
        edges=[("a", "out", "b")],
    )
    run = start(workflow)
    assert step_run_execute(step_run_id=run.step_runs.get().pk) == 0
    run.refresh_from_db()
    step_run = run.step_runs.get()
    assert run.status == Run.Status.CANCELLED
    assert (step_run.status, step_run.output) == (StepRun.Status.CANCELLED, None)
    assert ATTEMPTS["run:b"] == 0


def test_a_run_past_its_deadline_fails_at_the_next_record():
    def expire(ctx):
        Run.objects.filter(pk=ctx.run_id).update(deadline_at=timezone.now())
        return 1

    HOOKS["expire"] = expire
    workflow = workflow_build(
        steps=[
            {"name": "a", "block": "test-hook", "config": {"hook": "expire"}},
            {"name": "b", "block": "test-echo", "config": {"value": 1}},
        ],
        edges=[("a", "out", "b")],
    )
    run = start(workflow)
    step_run_execute(step_run_id=run.step_runs.get().pk)
    run.refresh_from_db()
    assert run.status == Run.Status.FAILED
    assert "timed out" in run.error
    assert AuditEvent.objects.filter(action="workflows.run_timed_out").count() == 1
    assert ATTEMPTS["run:b"] == 0


def test_set_variables_output_is_merged_into_the_run_vars():
    workflow = workflow_build(
        steps=[
            {
                "name": "setv",
                "block": "set-variables",
                "config": {"variables": [{"name": "limit", "value": "3", "type": "number"}]},
            },
            {"name": "use", "block": "test-echo", "config": {"value": "{{ vars.limit }}"}},
        ],
        edges=[("setv", "out", "use")],
        output={"limit": "{{ vars.limit }}"},
    )
    run = run_drain(start(workflow))
    assert run.status == Run.Status.SUCCEEDED
    assert run.vars == {"limit": 3}
    assert run.output == {"limit": 3}


def test_spend_is_summed_and_recorded_against_the_workflows_budgets():
    workflow = workflow_build(
        steps=[
            {"name": "a", "block": "test-echo", "config": {"value": 1, "tokens": 10, "cost": 5}},
            {"name": "b", "block": "test-echo", "config": {"value": 2, "tokens": 4, "cost": 7}},
        ],
        edges=[("a", "out", "b")],
    )
    scoped = Budget.objects.create(
        name="wf",
        limit=Decimal(1000),
        scope_type=ContentType.objects.get_for_model(Workflow),
        scope_id=workflow.pk,
    )
    other = Budget.objects.create(
        name="other wf",
        limit=Decimal(1000),
        scope_type=ContentType.objects.get_for_model(Workflow),
        scope_id=workflow.pk + 1000,
    )
    run = run_drain(start(workflow))
    assert (run.prompt_tokens, run.completion_tokens, run.cost) == (14, 14, Decimal(12))
    assert run.step_runs.get(step__name="a").prompt_tokens == 10
    spends = BudgetSpend.objects.filter(budget=scoped).order_by("amount")
    assert [spend.amount for spend in spends] == [Decimal(5), Decimal(7)]
    assert not BudgetSpend.objects.filter(budget=other).exists()


def test_a_failed_step_still_records_the_tokens_it_reports():
    def spend_then_fail(ctx):
        error = BlockBudgetExhausted("out of tokens")
        error.prompt_tokens = 30
        error.completion_tokens = 12
        raise error

    HOOKS["spend"] = spend_then_fail
    workflow = workflow_build(
        steps=[{"name": "a", "block": "test-hook", "config": {"hook": "spend"}}]
    )
    run = run_drain(start(workflow))
    step_run = run.step_runs.get()
    assert (step_run.status, step_run.prompt_tokens, step_run.completion_tokens) == (
        "failed",
        30,
        12,
    )
    assert (run.prompt_tokens, run.completion_tokens) == (30, 12)


def chain_of(length: int, *, key: str):
    """``length`` set-variables steps in a line, each reading the previous one's variable."""
    steps = [
        {
            "name": f"s{i}",
            "block": "set-variables",
            "config": {
                "variables": [
                    {
                        "name": f"v{i}",
                        "value": "{{ input.seed }}" if i == 0 else f"{{{{ vars.v{i - 1} }}}}",
                        "type": "number",
                    }
                ]
            },
        }
        for i in range(length)
    ]
    return workflow_build(
        steps=steps,
        edges=[(f"s{i}", "out", f"s{i + 1}") for i in range(length - 1)],
        key=key,
        output={"last": f"{{{{ vars.v{length - 1} }}}}"},
    )


def test_a_straight_through_step_reads_back_nothing_it_wrote():
    """Past the first, a step of a chain costs a claim, the read of the budget its run
    left, the locked run read, its record, the vars, the advance read and the next
    step's insert: the same at step 3 as at step 12, and no step's output is read back
    when no template names a step."""
    short, long = chain_of(2, key="short"), chain_of(12, key="long")
    counts = {}
    for workflow in (short, long):
        run = start(workflow, {"seed": 5})
        first, length = run.step_runs.get(), workflow.steps.count()
        with CaptureQueriesContext(connection) as queries:
            assert step_run_execute(step_run_id=first.pk) == length
        run.refresh_from_db()
        assert (run.status, run.output["last"]) == (Run.Status.SUCCEEDED, 5)
        sql = [query["sql"] for query in queries.captured_queries]
        outputs_read = [s for s in sql if s.startswith("SELECT") and 'steprun"."output' in s]
        assert len(outputs_read) == 1  # the task's own step run, read once at the start
        control = ("SAVEPOINT", "RELEASE", "BEGIN", "ROLLBACK")
        counts[workflow.key] = len([s for s in sql if not s.startswith(control)])
    assert (counts["long"] - counts["short"]) / 10 <= 7


def test_a_step_reads_the_outputs_its_templates_name():
    workflow = workflow_build(
        steps=[
            {"name": "a", "block": "test-echo", "config": {"value": {"n": 1}}},
            {"name": "b", "block": "test-echo", "config": {"value": 2}},
            {"name": "c", "block": "test-echo", "config": {"value": "{{ steps.a.output.n }}"}},
            {"name": "d", "block": "test-echo", "config": {"value": "{{ steps.x.output }}"}},
        ],
        edges=[("a", "out", "b"), ("b", "out", "c"), ("c", "out", "d")],
    )
    run = run_drain(start(workflow))
    assert run.step_runs.get(step__name="c").output == 1
    d = run.step_runs.get(step__name="d")
    assert (d.status, d.error_class) == (StepRun.Status.FAILED, "template")
    assert "'x' has not run" in d.error_message


def test_a_step_run_retried_by_another_worker_since_it_was_read_is_not_claimed():
    workflow = workflow_build(steps=[{"name": "a", "block": "test-echo", "config": {"value": 1}}])
    run = start(workflow)
    stale = StepRun.objects.select_related("run__workflow", "step").get(run=run)
    # Meanwhile another worker ran it, failed, and put it back for a retry.
    StepRun.objects.filter(pk=stale.pk).update(attempt=1, error_class="upstream")
    outcome = Runner("late").execute_one(stale.pk, enqueue=False, step_run=stale)
    assert outcome.recorded is False
    assert ATTEMPTS["run:a"] == 0
    row = StepRun.objects.get(pk=stale.pk)
    assert (row.status, row.attempt, row.lease_owner) == (StepRun.Status.PENDING, 1, "")


def test_the_step_handed_over_is_not_run_when_its_run_was_cancelled_meanwhile():
    workflow = workflow_build(
        steps=[
            {"name": "a", "block": "test-echo", "config": {"value": 1}},
            {"name": "b", "block": "test-echo", "config": {"value": 2}},
        ],
        edges=[("a", "out", "b")],
    )
    run = start(workflow)
    runner = Runner("worker")
    outcome = runner.execute_one(run.step_runs.get().pk, enqueue=False)
    handed = outcome.next_step_run
    assert handed is not None and handed.step.name == "b" and handed.pk == outcome.next_id
    run_cancel(run_id=run.pk, actor=None)
    assert runner.execute_one(handed.pk, enqueue=False, step_run=handed).recorded is False
    assert ATTEMPTS["run:b"] == 0
    assert StepRun.objects.get(pk=handed.pk).status == StepRun.Status.CANCELLED


def test_a_step_handed_over_records_its_attempt_and_start():
    workflow = workflow_build(
        steps=[
            {"name": "a", "block": "test-echo", "config": {"value": 1}},
            {"name": "b", "block": "test-fail", "config": {"times": 1}, "retry": {"attempts": 2}},
        ],
        edges=[("a", "out", "b")],
    )
    run = start(workflow)
    assert step_run_execute(step_run_id=run.step_runs.get().pk) == 3  # a, b failed, b again
    b = run.step_runs.get(step__name="b")
    assert (b.status, b.attempt, b.lease_owner) == (StepRun.Status.SUCCEEDED, 2, "")
    assert b.started_at is not None and b.output == {"attempts": 2}
    failed = AuditEvent.objects.get(action="workflows.step_failed")
    assert (failed.data["attempt"], failed.data["retry"]) == (1, True)


@pytest.mark.parametrize(("method", "requests"), [("GET", 2), ("POST", 1)])
def test_an_http_read_is_retried_but_a_write_only_when_idempotent(
    settings, loopback_server, method, requests
):
    """Whether a step has side effects is the block's answer for its config (a GET has
    none), not the block class's: a failing GET is retried, a failing POST is not."""
    settings.HTTP_ALLOWED_HOSTS = ["127.0.0.1"]
    workflow = workflow_build(
        steps=[
            {
                "name": "call",
                "block": "http",
                "config": {"method": method, "url": loopback_server.url("/status/503")},
                "retry": {"attempts": 2, "on": ["upstream"]},
            }
        ]
    )
    run = run_start(workflow=workflow, input={}, triggered_by=None)
    run = run_drain(run)
    assert run.status == Run.Status.FAILED
    assert len(loopback_server.received) == requests
    assert StepRun.objects.get(run=run).attempt == requests


def test_a_graph_step_is_handed_the_least_budget_its_run_left():
    HOOKS["budget"] = lambda ctx: ctx.budget.to_json()
    workflow = workflow_build(
        steps=[
            {"name": "a", "block": "test-echo", "config": {"value": 1}},
            {"name": "b", "block": "test-echo", "config": {"value": 2}},
            {"name": "c", "block": "test-hook", "config": {"hook": "budget"}},
        ],
        edges=[("a", "out", "b"), ("b", "out", "c")],
    )
    run = start(workflow)
    runner = Runner("worker")
    b = runner.execute_one(run.step_runs.get().pk, enqueue=False).next_step_run
    assert b is not None
    c = runner.execute_one(b.pk, enqueue=False, step_run=b).next_step_run
    assert c is not None
    # What a and b left, as an agent's and a subflow's records would say.
    unlimited = {"iterations": None, "tool_calls": None, "tokens": None, "depth": None}
    StepRun.objects.filter(run=run, step__name="a").update(
        budget={**unlimited, "tool_calls": 2, "tokens": 900}
    )
    StepRun.objects.filter(run=run, step__name="b").update(budget={**unlimited, "tokens": 500})
    assert runner.execute_one(c.pk, enqueue=False, step_run=c).recorded
    handed = StepRun.objects.get(pk=c.pk).output
    assert handed == {**unlimited, "tool_calls": 2, "tokens": 500}
