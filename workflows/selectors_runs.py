"""Reading runs: wait for one to finish, and one run with its step timeline."""

from __future__ import annotations

import time
from typing import Any

from decisions.models import Decision
from workflows.models import Run, StepRun


def run_wait(*, run_id: int, timeout: float, interval: float = 0.2) -> Run:
    """The run once it is no longer open, or as it is when ``timeout`` seconds passed."""
    deadline = time.monotonic() + timeout
    while True:
        run = Run.objects.select_related("workflow").get(pk=run_id)
        if run.status not in Run.OPEN_STATUSES or time.monotonic() >= deadline:
            return run
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))


def step_run_view(step_run: StepRun) -> dict[str, Any]:
    return {
        "id": step_run.pk,
        "step": step_run.step.name,
        "block": step_run.step.block,
        "status": step_run.status,
        "status_label": step_run.get_status_display(),
        "attempt": step_run.attempt,
        "port": step_run.port,
        "input": step_run.input,
        "output": step_run.output,
        "error_class": step_run.error_class,
        "error_message": step_run.error_message,
        "started_at": step_run.started_at,
        "finished_at": step_run.finished_at,
        "duration_ms": step_run.duration_ms,
        "prompt_tokens": step_run.prompt_tokens,
        "completion_tokens": step_run.completion_tokens,
        "cost": str(step_run.cost),
        "tool_calls": [],
    }


def run_detail(*, run_id: int) -> dict[str, Any]:
    """A run and its step runs in order, each agent step with its tool calls nested."""
    run = Run.objects.select_related("workflow").get(pk=run_id)
    rows = list(StepRun.objects.filter(run=run).select_related("step").order_by("created_at", "id"))
    views = {row.pk: step_run_view(row) for row in rows}
    top: list[dict[str, Any]] = []
    for row in rows:
        if row.parent_id is None:
            top.append(views[row.pk])
        elif row.parent_id in views:
            views[row.parent_id]["tool_calls"].append(views[row.pk])
    return {
        "id": run.pk,
        "workflow": {
            "id": run.workflow_id,
            "key": run.workflow.key,
            "version": run.workflow.version,
        },
        "status": run.status,
        "trigger": run.trigger,
        "subject": run.subject,
        "is_test": run.is_test,
        "input": run.input,
        "output": run.output,
        "vars": run.vars,
        "error": run.error,
        "depth": run.depth,
        "parent_step_run": run.parent_step_run_id,
        "prompt_tokens": run.prompt_tokens,
        "completion_tokens": run.completion_tokens,
        "cost": str(run.cost),
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "deadline_at": run.deadline_at,
        "step_runs": top,
    }


def run_waiting_decisions(*, run: Run) -> list[int]:
    """The open decisions this run's waiting steps asked for (oldest first)."""
    waiting = StepRun.objects.filter(run=run, status=StepRun.Status.WAITING).values_list(
        "pk", flat=True
    )
    return list(
        Decision.objects.filter(
            action="workflows.step_approve",
            status=Decision.Status.PENDING,
            action_args__step_run_id__in=list(waiting),
        )
        .order_by("id")
        .values_list("pk", flat=True)
    )
