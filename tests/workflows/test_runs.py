"""run_start, run_cancel and step_run_retry: guarded, audited, queued after commit;
and every status change in the services is a table transition."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from decisions.models import AuditEvent
from tests.concurrency import run_together
from tests.workflows.engine_blocks import ATTEMPTS, run_drain, workflow_build
from workflows.errors import RunInputInvalid, WorkflowStateError
from workflows.models import Run, RunTrigger, StepRun, Workflow
from workflows.services import transitions
from workflows.services.runs import run_cancel, run_start, step_run_retry

pytestmark = pytest.mark.django_db

SCHEMA = {
    "type": "object",
    "properties": {"question": {"type": "string"}, "n": {"type": "integer"}},
    "required": ["question"],
    "additionalProperties": False,
}


@pytest.fixture(autouse=True)
def _clean():
    ATTEMPTS.clear()


@pytest.fixture
def enqueued(monkeypatch):
    sent: list[int] = []
    monkeypatch.setattr(
        "workflows.services.enqueue.async_task", lambda func, pk, **kw: sent.append(pk)
    )
    return sent


def one_step(**kw):
    return workflow_build(
        steps=[{"name": "a", "block": "test-echo", "config": {"value": "{{ input.question }}"}}],
        input_schema=SCHEMA,
        output={"a": "{{ steps.a.output }}"},
        **kw,
    )


def test_it_queues_a_run_and_its_start_step_after_commit(
    alice, enqueued, django_capture_on_commit_callbacks
):
    workflow = one_step()
    with django_capture_on_commit_callbacks(execute=True):
        run = run_start(
            workflow=workflow,
            input={"question": "hi"},
            triggered_by=alice,
            trigger=RunTrigger.ADMIN,
            subject="goals.goal:1",
        )
    assert (run.status, run.trigger, run.triggered_by, run.subject) == (
        "queued",
        "admin",
        alice,
        "goals.goal:1",
    )
    assert run.deadline_at is not None
    start = run.step_runs.get()
    assert start.step.name == "a" and start.status == StepRun.Status.PENDING
    assert start.idempotency_key == f"wf-{run.pk}-{start.step_id}"
    assert enqueued == [start.pk]
    event = AuditEvent.objects.get(action="workflows.run_queued")
    assert event.actor == alice and event.subject_id == str(run.pk)


def test_it_refuses_bad_input_with_every_problem_and_saves_nothing(alice, enqueued):
    workflow = one_step()
    with pytest.raises(RunInputInvalid) as caught:
        run_start(workflow=workflow, input={"n": "x", "extra": 1}, triggered_by=alice)
    messages = " | ".join(p["message"] for p in caught.value.problems)
    assert "'question' is a required property" in messages
    assert "'x' is not of type 'integer'" in messages
    assert "extra" in messages
    assert {p["code"] for p in caught.value.problems} == {"INPUT"}
    assert not Run.objects.exists() and not AuditEvent.objects.exists()


def test_a_draft_runs_only_as_a_test_run(alice):
    draft = one_step(status=Workflow.Status.DRAFT)
    with pytest.raises(WorkflowStateError, match="draft"):
        run_start(workflow=draft, input={"question": "q"}, triggered_by=alice)
    run = run_start(workflow=draft, input={"question": "q"}, triggered_by=alice, test=True)
    assert run.is_test
    retired = one_step(status=Workflow.Status.RETIRED, key="old")
    with pytest.raises(WorkflowStateError):
        run_start(workflow=retired, input={"question": "q"}, triggered_by=alice, test=True)


def test_cancel_stops_open_step_runs_and_is_audited(alice):
    workflow = workflow_build(
        steps=[
            {"name": "a", "block": "test-echo", "config": {"value": 1}},
            {"name": "b", "block": "test-echo", "config": {"value": 2}},
        ],
        edges=[("a", "out", "b")],
    )
    run = run_start(workflow=workflow, input={}, triggered_by=alice)
    run = run_cancel(run_id=run.pk, actor=alice)
    assert run.status == Run.Status.CANCELLED
    assert run.step_runs.get().status == StepRun.Status.CANCELLED
    event = AuditEvent.objects.get(action="workflows.run_cancelled")
    assert event.actor == alice and event.data["step_runs_cancelled"] == [run.step_runs.get().pk]
    run_drain(run)
    assert ATTEMPTS["run:a"] == 0
    with pytest.raises(WorkflowStateError):
        run_cancel(run_id=run.pk, actor=alice)


def test_a_person_retries_the_failed_step_of_a_failed_run(
    alice, enqueued, django_capture_on_commit_callbacks
):
    workflow = workflow_build(
        steps=[
            {"name": "bad", "block": "test-fail", "config": {"times": 1, "error": "config"}},
            {"name": "after", "block": "test-echo", "config": {"value": "ok"}},
        ],
        edges=[("bad", "out", "after")],
        output={"after": "{{ steps.after.output }}"},
    )
    run = run_drain(run_start(workflow=workflow, input={}, triggered_by=alice))
    assert run.status == Run.Status.FAILED
    failed = run.step_runs.get(step__name="bad")
    with django_capture_on_commit_callbacks(execute=True):
        retried = step_run_retry(step_run_id=failed.pk, actor=alice)
    assert (retried.status, retried.attempt) == (StepRun.Status.PENDING, 0)
    run.refresh_from_db()
    assert (run.status, run.error) == (Run.Status.RUNNING, "")
    assert enqueued == [failed.pk]
    assert AuditEvent.objects.get(action="workflows.step_retried").actor == alice
    run = run_drain(run)
    assert run.status == Run.Status.SUCCEEDED and run.output == {"after": "ok"}


def test_only_a_failed_step_of_a_failed_run_is_retried(alice):
    run = run_drain(run_start(workflow=one_step(), input={"question": "q"}, triggered_by=alice))
    assert run.status == Run.Status.SUCCEEDED
    with pytest.raises(WorkflowStateError, match="only a failed step"):
        step_run_retry(step_run_id=run.step_runs.get().pk, actor=alice)
    assert not AuditEvent.objects.filter(action="workflows.step_retried").exists()


def test_every_status_change_is_a_table_transition(alice, monkeypatch):
    seen: list[tuple[str, str, str]] = []
    real = transitions.transition_check

    def spy(model, current, new):
        seen.append((model.__name__, current, new))
        real(model, current, new)

    monkeypatch.setattr(transitions, "transition_check", spy)
    workflow = workflow_build(
        steps=[
            {
                "name": "bad",
                "block": "test-fail",
                "config": {"times": 2, "error": "config"},
                "retry": {"attempts": 2, "on": ["config"]},
            },
            {"name": "after", "block": "test-echo", "config": {"value": "ok"}},
        ],
        edges=[("bad", "out", "after")],
    )
    run = run_drain(run_start(workflow=workflow, input={}, triggered_by=alice))
    step_run_retry(step_run_id=run.step_runs.get(step__name="bad").pk, actor=alice)
    run = run_drain(run)
    other = run_start(workflow=workflow, input={}, triggered_by=alice)
    run_cancel(run_id=other.pk, actor=alice)
    for model_name, current, new in seen:
        model = {"Run": Run, "StepRun": StepRun}[model_name]
        assert new in model.TRANSITIONS[current]
    assert {
        ("StepRun", "pending", "running"),
        ("StepRun", "running", "pending"),
        ("StepRun", "running", "failed"),
        ("StepRun", "failed", "pending"),
        ("StepRun", "running", "succeeded"),
        ("Run", "queued", "running"),
        ("Run", "running", "failed"),
        ("Run", "failed", "running"),
        ("Run", "running", "succeeded"),
        ("Run", "queued", "cancelled"),
        ("StepRun", "pending", "cancelled"),
    } <= set(seen)


def test_no_service_writes_a_status_around_the_checker():
    """Statuses are written only by ``status_move`` (and the lease claim, which checks
    its transition first): no ``status=`` in another ``update()``, no ``.status =`` in a
    function that also calls ``save()``."""
    root = Path(transitions.__file__).parent
    offenders = []
    for path in sorted(root.glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", "") == "update"
                and any(k.arg == "status" for k in node.keywords)
                and path.name != "transitions.py"
            ):
                offenders.append(f"{path.name}:{node.lineno}")
            if isinstance(node, ast.FunctionDef):
                inner = list(ast.walk(node))
                sets_status = any(
                    isinstance(n, ast.Assign)
                    and any(getattr(t, "attr", "") == "status" for t in n.targets)
                    for n in inner
                )
                saves = any(
                    isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "save" for n in inner
                )
                if sets_status and saves:
                    offenders.append(f"{path.name}:{node.lineno} {node.name} saves a status")
    assert offenders == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_people_cancelling_at_once_cancel_once(alice):
    run = run_start(workflow=one_step(), input={"question": "q"}, triggered_by=alice)
    results, errors = run_together(lambda i: run_cancel(run_id=run.pk, actor=alice), 2)
    assert len(results) == 1 and len(errors) == 1
    assert isinstance(errors[0], WorkflowStateError)
    assert AuditEvent.objects.filter(action="workflows.run_cancelled").count() == 1
