"""Runs over HTTP: start one (202: it runs on the workers), list, read, cancel, retry a step.

Starting work needs ``workflows.execute_workflow`` on every endpoint that starts it
(a run, a step retried); reading runs ``workflows.view_run``; cancelling
``workflows.change_run``.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Status

from workflows.api.auth import permission_require
from workflows.api.pagination import LIMIT_DEFAULT, LIMIT_MAX, page_of
from workflows.api.schemas import ErrorsOut, RunDetailOut, RunIn, RunOut, RunPage, StepRunOut
from workflows.models import Run, RunTrigger, StepRun, Workflow
from workflows.services.runs import run_cancel, run_start, step_run_retry

router = Router(tags=["runs"])


def _run(run_id: int) -> Run:
    return Run.objects.get(pk=run_id)


@router.post(
    "/workflows/{workflow_id}/runs",
    response={202: RunOut, 400: ErrorsOut, 409: ErrorsOut},
    summary="Start a run (a draft only as a test run)",
)
def runs_start(request: HttpRequest, workflow_id: int, payload: RunIn) -> Status:
    user = permission_require(request, "workflows.execute_workflow")
    workflow = Workflow.objects.get(pk=workflow_id)
    run = run_start(
        workflow=workflow,
        input=payload.input,
        triggered_by=user,
        trigger=RunTrigger.API,
        subject=payload.subject,
        test=payload.test,
    )
    return Status(202, run)


@router.get("/workflows/{workflow_id}/runs", response=RunPage, summary="A workflow's runs")
def runs_list(
    request: HttpRequest,
    workflow_id: int,
    status: Run.Status | None = None,
    cursor: str | None = None,
    limit: int = Query(LIMIT_DEFAULT, ge=1, le=LIMIT_MAX),
) -> dict[str, Any]:
    permission_require(request, "workflows.view_run")
    Workflow.objects.get(pk=workflow_id)
    runs = Run.objects.filter(workflow_id=workflow_id)
    if status:
        runs = runs.filter(status=status)
    page, next_cursor = page_of(runs, cursor=cursor, limit=limit)
    return {"data": page, "next_cursor": next_cursor}


@router.get("/runs/{run_id}", response=RunDetailOut, summary="One run with its step runs")
def runs_detail(request: HttpRequest, run_id: int) -> Run:
    permission_require(request, "workflows.view_run")
    return _run(run_id)


@router.post(
    "/runs/{run_id}/cancel",
    response={200: RunOut, 409: ErrorsOut},
    summary="Cancel a run (running steps finish, nothing new starts)",
)
def runs_cancel(request: HttpRequest, run_id: int) -> Run:
    user = permission_require(request, "workflows.change_run")
    _run(run_id)
    return run_cancel(run_id=run_id, actor=user)


@router.post(
    "/runs/{run_id}/steps/{step_run_id}/retry",
    response={202: StepRunOut, 409: ErrorsOut},
    summary="Retry a failed step of a run",
)
def step_runs_retry(request: HttpRequest, run_id: int, step_run_id: int) -> Status:
    user = permission_require(request, "workflows.execute_workflow", "workflows.change_run")
    StepRun.objects.get(pk=step_run_id, run_id=run_id)
    return Status(202, step_run_retry(step_run_id=step_run_id, actor=user))
