"""Editing: a draft changes in place, a published version by the next draft of its key."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.db.models import Max

from decisions.actors import Actor
from decisions.services import audit_log
from workflows.errors import WorkflowStateError
from workflows.graph import document_normalise
from workflows.models import Workflow
from workflows.selectors import publish_decision_pending, workflow_document
from workflows.services.definitions.guards import Status, _locked, _person, _require, _transition
from workflows.services.definitions.rows import _rows_write, _validated

# -- editing: drafts in place, published versions by a new draft ------------------------


def _draft_for_edit(workflow: Workflow, *, actor: Actor) -> Workflow:
    """The draft an edit of ``workflow`` goes to (locked by the caller's key lock)."""
    if workflow.status == Status.DRAFT:
        return workflow
    if workflow.status == Status.PENDING_APPROVAL:
        pending = publish_decision_pending(workflow=workflow)
        if pending is not None:
            raise WorkflowStateError(
                f"{workflow} is waiting for approval (decision #{pending.pk}): "
                "it cannot change until that is decided"
            )
        # Its decision was rejected or expired (decisions have no rejection hook): the
        # version goes back to being a draft the first time someone touches it.
        _transition(
            workflow,
            Status.DRAFT,
            actor=actor,
            action="workflows.workflow_publish_refused",
            data={"reason": "its publish decision was not approved"},
        )
        return workflow
    open_draft = (
        Workflow.objects.filter(key=workflow.key, status=Status.DRAFT).order_by("-version").first()
    )
    if open_draft is not None:
        return open_draft
    document = workflow_document(workflow=workflow)
    latest = Workflow.objects.filter(key=workflow.key).aggregate(v=Max("version"))["v"] or 0
    draft = Workflow(
        key=workflow.key,
        version=latest + 1,
        name=workflow.name,
        status=Status.DRAFT,
        created_by=_person(actor),
    )
    _rows_write(draft, document_normalise(document))
    audit_log(
        action="workflows.workflow_versioned",
        actor=actor,
        subject=draft,
        data={"from": workflow.pk, "from_version": workflow.version, "version": draft.version},
    )
    return draft


def _edit(
    *,
    workflow_id: int,
    actor: Actor,
    change: Callable[[dict[str, Any]], dict[str, Any]],
    what: str,
    data: dict[str, Any] | None = None,
    renames: dict[str, str] | None = None,
    intent: str = "",
) -> Workflow:
    """Apply ``change`` to the document of the draft an edit of ``workflow_id`` goes to.

    ``intent`` (the request that caused the edit, e.g. the copilot user's message) is
    recorded in the audit row when given.
    """
    _require(actor, "workflows.change_workflow")
    with transaction.atomic():
        workflow = _locked(workflow_id)
        draft = _draft_for_edit(workflow, actor=actor)
        document = change(workflow_document(workflow=draft))
        normalised = _validated(document, current_key=draft.key)
        _rows_write(draft, normalised, renames=renames)
        audit_log(
            action="workflows.workflow_updated",
            actor=actor,
            subject=draft,
            data={
                "change": what,
                "version": draft.version,
                **(data or {}),
                **({"intent": intent} if intent else {}),
            },
        )
    return draft
