"""Runs: start one, cancel one, retry a failed step, and the run's own transitions.

Every transition here is guarded by ``Run.TRANSITIONS`` / ``StepRun.TRANSITIONS``
(``workflows.services.transitions``), race-safe (a compare-and-set ``UPDATE``), and
writes its audit row in the same transaction. Work is queued only after commit.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from bizagent.llm.structured import schema_check
from decisions.actors import Actor
from decisions.services import audit_log
from workflows.errors import Problem, RunInputInvalid, WorkflowStateError, problem
from workflows.models import Run, RunTrigger, Step, StepRun, Workflow
from workflows.services.enqueue import step_runs_enqueue
from workflows.services.transitions import status_move

#: A subflow of a subflow of… at most this deep (a run's ``depth`` starts at 0).
MAX_RUN_DEPTH = 5


def input_problems(
    *, schema: dict[str, Any] | None, value: Any, code: str = "INPUT"
) -> list[Problem]:
    """Every way ``value`` breaks ``schema``, each as a Problem with its JSON path."""
    if not schema:
        return []
    found: list[Problem] = []
    for error in sorted(
        schema_check(schema).iter_errors(value), key=lambda e: list(e.absolute_path)
    ):
        path = "$" + "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path
        )
        found.append(problem(code, f"{path}: {error.message}", path=path))
    return found


def step_idempotency_key(
    *, run_id: int, step_id: int, parent_id: int | None = None, call_key: str = ""
) -> str:
    """Stable across attempts: what outbound calls send as ``Idempotency-Key``."""
    if parent_id is None:
        return f"wf-{run_id}-{step_id}"
    return f"wf-{run_id}-{parent_id}-{call_key[:40]}"


def start_step(*, workflow: Workflow) -> Step:
    """The one non-tool-only step with no incoming edge."""
    starts = list(
        Step.objects.filter(workflow=workflow, tool_only=False, in_edges__isnull=True).distinct()
    )
    if len(starts) != 1:
        raise WorkflowStateError(
            f"workflow {workflow} has {len(starts)} start steps; it needs exactly one"
        )
    return starts[0]


def run_create(
    *,
    workflow: Workflow,
    input: dict[str, Any],
    triggered_by: Actor,
    trigger: str,
    subject: str = "",
    test: bool = False,
    parent_step_run: StepRun | None = None,
    depth: int = 0,
) -> tuple[Run, StepRun]:
    """Create a queued run and its start step run, audited; call inside a transaction.

    The caller decides whether to enqueue (a subflow runs inline in its parent's worker).
    """
    problems = input_problems(schema=workflow.input_schema, value=input)
    if problems:
        raise RunInputInvalid(problems)
    if workflow.status != Workflow.Status.PUBLISHED and not (
        test and workflow.status == Workflow.Status.DRAFT
    ):
        raise WorkflowStateError(
            f"{workflow} is {workflow.status}: only a published version runs "
            "(a draft only as a test run)"
        )
    first = start_step(workflow=workflow)
    now = timezone.now()
    person = triggered_by if isinstance(triggered_by, User) else None
    run = Run.objects.create(
        workflow=workflow,
        status=Run.Status.QUEUED,
        trigger=trigger,
        triggered_by=person,
        subject=subject[:120],
        is_test=test,
        input=input,
        parent_step_run=parent_step_run,
        depth=depth,
        deadline_at=now + timedelta(seconds=workflow.timeout_seconds),
    )
    step_run = StepRun.objects.create(
        run=run,
        step=first,
        status=StepRun.Status.PENDING,
        idempotency_key=step_idempotency_key(run_id=run.pk, step_id=first.pk),
    )
    audit_log(
        action="workflows.run_queued",
        actor=triggered_by,
        subject=run,
        data={
            "workflow": workflow.key,
            "version": workflow.version,
            "trigger": trigger,
            "test": test,
            "depth": depth,
        },
    )
    return run, step_run


def run_start(
    *,
    workflow: Workflow,
    input: dict[str, Any],
    triggered_by: Actor,
    trigger: str = RunTrigger.API,
    subject: str = "",
    test: bool = False,
) -> Run:
    """Validate ``input`` against the workflow's schema and queue a run of it.

    Raises ``RunInputInvalid`` (every problem; nothing saved) or ``WorkflowStateError``
    (not published, and not a test run of a draft). The start step is queued on commit.
    Permission to execute is checked by the caller (API, admin, command).
    """
    with transaction.atomic():
        run, step_run = run_create(
            workflow=workflow,
            input=input,
            triggered_by=triggered_by,
            trigger=trigger,
            subject=subject,
            test=test,
        )
        step_runs_enqueue([step_run.pk])
    return run


def run_mark_running(*, run: Run) -> bool:
    """QUEUED → RUNNING when its first step is claimed (audited); False if already moved."""
    now = timezone.now()
    if not status_move(
        Run, pk=run.pk, sources=[Run.Status.QUEUED], target=Run.Status.RUNNING, started_at=now
    ):
        return False
    run.status, run.started_at = Run.Status.RUNNING, now
    audit_log(action="workflows.run_started", subject=run, data={"workflow": run.workflow_id})
    return True


def run_end(
    *, run: Run, status: str, output: Any = None, error: str = "", action: str = ""
) -> bool:
    """Finish an open run (succeeded, partially succeeded, failed) with its audit row.

    Pending step runs of a failed run are left pending: nothing new starts while the run
    is failed, and ``step_run_retry`` picks them up again when a person reopens it.
    """
    now = timezone.now()
    moved = status_move(
        Run,
        pk=run.pk,
        sources=[s for s in Run.OPEN_STATUSES if status in Run.TRANSITIONS[s]],
        target=status,
        output=output,
        error=error[:4000],
        finished_at=now,
    )
    if not moved:
        return False
    run.status, run.output, run.error, run.finished_at = status, output, error, now
    audit_log(
        action=action or f"workflows.run_{status}",
        subject=run,
        data={"error": error[:500]} if error else {},
    )
    return True


def _step_runs_stop(*, run: Run, status: str) -> list[int]:
    """Cancel every open step run of ``run`` (running ones lose their lease, so their
    worker records nothing when it comes back); returns their ids."""
    stopped: list[int] = []
    now = timezone.now()
    for step_run in StepRun.objects.filter(run=run, status__in=StepRun.Status.values).exclude(
        status__in=StepRun.DONE_STATUSES
    ):
        if status_move(
            StepRun,
            pk=step_run.pk,
            sources=[step_run.status],
            target=status,
            lease_owner="",
            lease_expires_at=None,
            finished_at=now,
        ):
            stopped.append(step_run.pk)
    return stopped


def run_cancel(*, run_id: int, actor: Actor) -> Run:
    """Cancel an open run: its open step runs are cancelled, running ones stop at their
    next record (their lease is gone). Permission is checked by the caller."""
    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=run_id)
        if run.status not in Run.OPEN_STATUSES:
            raise WorkflowStateError(f"run {run.pk} is {run.status}; only an open run is cancelled")
        status_move(
            Run,
            pk=run.pk,
            sources=[run.status],
            target=Run.Status.CANCELLED,
            finished_at=timezone.now(),
            error="cancelled",
        )
        stopped = _step_runs_stop(run=run, status=StepRun.Status.CANCELLED)
        audit_log(
            action="workflows.run_cancelled",
            actor=actor,
            subject=run,
            data={"step_runs_cancelled": stopped},
        )
    run.refresh_from_db()
    return run


def run_time_out(*, run_id: int, now: datetime | None = None) -> bool:
    """Fail an open run past its deadline, with the reason; its open step runs are
    cancelled. False when it was not open (or not late) any more."""
    with transaction.atomic():
        run = Run.objects.select_for_update().select_related("workflow").get(pk=run_id)
        now = now or timezone.now()
        if run.status not in Run.OPEN_STATUSES or not run.deadline_at or run.deadline_at > now:
            return False
        reason = f"timed out: the workflow allows {run.workflow.timeout_seconds} s"
        if not run_end(
            run=run, status=Run.Status.FAILED, error=reason, action="workflows.run_timed_out"
        ):
            return False
        _step_runs_stop(run=run, status=StepRun.Status.CANCELLED)
    return True


def step_run_retry(*, step_run_id: int, actor: Actor) -> StepRun:
    """A person retries the failed step of a failed run: the step run goes back to
    pending with a fresh attempt count, the run reopens with a new deadline, and the
    step (and any step the failure left pending) is queued. Permission is checked by
    the caller (execute permission)."""
    with transaction.atomic():
        step_run = StepRun.objects.select_related("run__workflow").get(pk=step_run_id)
        run = Run.objects.select_for_update().get(pk=step_run.run_id)
        if step_run.parent_id is not None:
            raise WorkflowStateError(
                "a tool call is retried by retrying the agent step that made it"
            )
        if run.status != Run.Status.FAILED or step_run.status != StepRun.Status.FAILED:
            raise WorkflowStateError(
                f"only a failed step of a failed run is retried (run {run.status}, "
                f"step {step_run.status})"
            )
        now = timezone.now()
        status_move(
            StepRun,
            pk=step_run.pk,
            sources=[StepRun.Status.FAILED],
            target=StepRun.Status.PENDING,
            attempt=0,
            run_after=None,
            finished_at=None,
        )
        status_move(
            Run,
            pk=run.pk,
            sources=[Run.Status.FAILED],
            target=Run.Status.RUNNING,
            error="",
            finished_at=None,
            output=None,
            deadline_at=now + timedelta(seconds=step_run.run.workflow.timeout_seconds),
        )
        audit_log(
            action="workflows.step_retried",
            actor=actor,
            subject=run,
            data={"step_run": step_run.pk, "step": step_run.step_id},
        )
        pending = list(
            StepRun.objects.filter(
                run=run, parent__isnull=True, status=StepRun.Status.PENDING
            ).values_list("pk", flat=True)
        )
        step_runs_enqueue(pending)
    step_run.refresh_from_db()
    return step_run
