"""Workflows over HTTP: documents (CRUD), their steps and edges, and validation.

Thin: parse (schemas), check the permission, call the definition service, render.
Editing a published version makes a new draft version (the services' rule), so a
write answers with the workflow that was changed, whose id may be a new one.
"""

from __future__ import annotations

import json
from typing import Any

from django.db.models import Q
from django.http import HttpRequest
from ninja import Query, Router, Status
from ninja.errors import HttpError

from workflows.api.auth import permission_require, request_intent
from workflows.api.pagination import LIMIT_DEFAULT, LIMIT_MAX, page_of
from workflows.api.schemas import (
    EdgeCreatedOut,
    EdgeIn,
    ErrorsOut,
    StepCreateIn,
    StepIn,
    ValidateOut,
    WorkflowDetailOut,
    WorkflowDocumentIn,
    WorkflowPage,
    document_dump,
)
from workflows.errors import WorkflowInvalid, problem
from workflows.models import Edge, Workflow
from workflows.selectors import document_problems, workflow_document
from workflows.services.definitions import (
    edge_add,
    edge_delete,
    step_add,
    step_delete,
    step_update,
    workflow_create,
    workflow_delete,
    workflow_update,
)

router = Router(tags=["workflows"])

#: (method, route ending) of the operations whose body is a whole workflow document: a
#: shape error there is answered with the validator's full list of problems too.
# Routes as Django resolves them (ninja registers path parameters without a converter).
DOCUMENT_OPERATIONS = {("POST", "workflows"), ("PUT", "workflows/<workflow_id>")}
WRITE_ERRORS: dict[int, Any] = {400: ErrorsOut, 409: ErrorsOut}


def workflow_detail(workflow: Workflow) -> dict[str, Any]:
    """A workflow's summary, its document and its edges with their ids."""
    edges = workflow.edges.select_related("source", "target").order_by("id")
    return {
        **{field: getattr(workflow, field) for field in _SUMMARY},
        "document": workflow_document(workflow=workflow),
        "edges": [
            {"id": edge.pk, "from": edge.source.name, "port": edge.port, "to": edge.target.name}
            for edge in edges
        ],
    }


_SUMMARY = (
    "id",
    "key",
    "version",
    "status",
    "name",
    "description",
    "is_system",
    "created_at",
    "updated_at",
    "published_at",
)


def _workflow(workflow_id: int) -> Workflow:
    return Workflow.objects.get(pk=workflow_id)


@router.get("/workflows", response=WorkflowPage, summary="List workflow versions")
def workflows_list(
    request: HttpRequest,
    status: Workflow.Status | None = None,
    key: str | None = None,
    search: str | None = Query(
        None, description="Words that must all appear (case-blind) in the name, key or description."
    ),
    cursor: str | None = None,
    limit: int = Query(LIMIT_DEFAULT, ge=1, le=LIMIT_MAX),
) -> dict[str, Any]:
    permission_require(request, "workflows.view_workflow")
    workflows = Workflow.objects.all()
    if status:
        workflows = workflows.filter(status=status)
    if key:
        workflows = workflows.filter(key=key)
    # Every word, not the phrase: "support bot" finds "Customer-support bot".
    for word in (search or "").split():
        workflows = workflows.filter(
            Q(name__icontains=word) | Q(key__icontains=word) | Q(description__icontains=word)
        )
    page, next_cursor = page_of(workflows, cursor=cursor, limit=limit)
    return {"data": page, "next_cursor": next_cursor}


@router.post(
    "/workflows",
    response={201: WorkflowDetailOut, **WRITE_ERRORS},
    by_alias=True,
    summary="Create a draft workflow from a document",
)
def workflows_create(request: HttpRequest, payload: WorkflowDocumentIn) -> Status:
    user = permission_require(request, "workflows.add_workflow")
    workflow = workflow_create(document=document_dump(payload), actor=user)
    return Status(201, workflow_detail(workflow))


@router.get(
    "/workflows/{workflow_id}",
    response=WorkflowDetailOut,
    by_alias=True,
    summary="One workflow version",
)
def workflows_detail(request: HttpRequest, workflow_id: int) -> dict[str, Any]:
    permission_require(request, "workflows.view_workflow")
    return workflow_detail(_workflow(workflow_id))


@router.put(
    "/workflows/{workflow_id}",
    response={200: WorkflowDetailOut, **WRITE_ERRORS},
    by_alias=True,
    summary="Replace a workflow's document (a published version gives a new draft)",
)
def workflows_update(
    request: HttpRequest, workflow_id: int, payload: WorkflowDocumentIn
) -> dict[str, Any]:
    user = permission_require(request, "workflows.change_workflow")
    _workflow(workflow_id)
    workflow = workflow_update(workflow_id=workflow_id, document=document_dump(payload), actor=user)
    return workflow_detail(workflow)


@router.delete(
    "/workflows/{workflow_id}",
    response={204: None, 409: ErrorsOut},
    summary="Delete a draft with no runs",
)
def workflows_delete(request: HttpRequest, workflow_id: int) -> Status:
    user = permission_require(request, "workflows.delete_workflow")
    _workflow(workflow_id)
    workflow_delete(workflow_id=workflow_id, actor=user)
    return Status(204, None)


@router.post(
    "/workflows/{workflow_id}/steps",
    response={201: WorkflowDetailOut, **WRITE_ERRORS},
    by_alias=True,
    summary="Add a step",
)
def steps_create(request: HttpRequest, workflow_id: int, payload: StepCreateIn) -> Status:
    user = permission_require(request, "workflows.change_workflow")
    _workflow(workflow_id)
    workflow = step_add(
        workflow_id=workflow_id,
        step=document_dump(payload),
        actor=user,
        intent=request_intent(request),
    )
    return Status(201, workflow_detail(workflow))


@router.put(
    "/workflows/{workflow_id}/steps/{step_name}",
    response={200: WorkflowDetailOut, **WRITE_ERRORS},
    by_alias=True,
    summary="Replace a step (renaming it keeps its edges)",
)
def steps_update(
    request: HttpRequest, workflow_id: int, step_name: str, payload: StepIn
) -> dict[str, Any]:
    user = permission_require(request, "workflows.change_workflow")
    _step_exists(workflow_id, step_name)
    workflow = step_update(
        workflow_id=workflow_id,
        step_name=step_name,
        step=document_dump(payload),
        actor=user,
        intent=request_intent(request),
    )
    return workflow_detail(workflow)


@router.delete(
    "/workflows/{workflow_id}/steps/{step_name}",
    response={200: WorkflowDetailOut, **WRITE_ERRORS},
    by_alias=True,
    summary="Delete a step and its edges",
)
def steps_delete(request: HttpRequest, workflow_id: int, step_name: str) -> dict[str, Any]:
    user = permission_require(request, "workflows.change_workflow")
    _step_exists(workflow_id, step_name)
    workflow = step_delete(
        workflow_id=workflow_id, step_name=step_name, actor=user, intent=request_intent(request)
    )
    return workflow_detail(workflow)


@router.post(
    "/workflows/{workflow_id}/edges",
    response={201: EdgeCreatedOut, **WRITE_ERRORS},
    by_alias=True,
    summary="Add an edge from a step's port to a step",
)
def edges_create(request: HttpRequest, workflow_id: int, payload: EdgeIn) -> Status:
    user = permission_require(request, "workflows.change_workflow")
    _workflow(workflow_id)
    edge = edge_add(
        workflow_id=workflow_id,
        edge=document_dump(payload),
        actor=user,
        intent=request_intent(request),
    )
    return Status(201, _edge_out(edge))


@router.delete(
    "/workflows/{workflow_id}/edges/{edge_id}",
    response={200: WorkflowDetailOut, **WRITE_ERRORS},
    by_alias=True,
    summary="Delete an edge",
)
def edges_delete(request: HttpRequest, workflow_id: int, edge_id: int) -> dict[str, Any]:
    user = permission_require(request, "workflows.change_workflow")
    Edge.objects.get(pk=edge_id, workflow_id=workflow_id)
    workflow = edge_delete(
        workflow_id=workflow_id, edge_id=edge_id, actor=user, intent=request_intent(request)
    )
    return workflow_detail(workflow)


@router.post(
    "/workflows/{workflow_id}/validate",
    response={200: ValidateOut, 400: ErrorsOut},
    summary="Validate the stored workflow, or a document meant to replace it",
    description="With no body, the stored version is checked; with a workflow document "
    "as the body, that document is (nothing is saved either way).",
    openapi_extra={
        "requestBody": {
            "required": False,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/WorkflowDocumentIn"}}
            },
        }
    },
)
def workflows_validate(request: HttpRequest, workflow_id: int) -> dict[str, Any]:
    permission_require(request, "workflows.view_workflow")
    workflow = _workflow(workflow_id)
    # The body is read here, not declared: it is optional, and the validator checks its
    # shape itself (every problem at once, not pydantic's first layer).
    if request.content_type == "application/json" and request.body.strip():
        try:
            document = json.loads(request.body)
        except ValueError:
            raise WorkflowInvalid([problem("TYPE", "the body is not JSON", path="")]) from None
    else:
        document = workflow_document(workflow=workflow)
    problems = document_problems(document=document)
    return {"valid": not problems, "errors": problems}


def _step_exists(workflow_id: int, step_name: str) -> None:
    if not _workflow(workflow_id).steps.filter(name=step_name).exists():
        raise HttpError(404, f"no step named {step_name!r} in workflow {workflow_id}")


def _edge_out(edge: Edge) -> dict[str, Any]:
    return {
        "id": edge.pk,
        "workflow_id": edge.workflow_id,
        "from": edge.source.name,
        "port": edge.port,
        "to": edge.target.name,
    }
