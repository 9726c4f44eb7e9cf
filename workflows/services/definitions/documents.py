"""Whole workflows: create a draft from a document, replace its document, delete it."""

from __future__ import annotations

import copy
from typing import Any

from django.db import IntegrityError, transaction

from decisions.actors import Actor
from decisions.services import audit_log
from workflows.errors import WorkflowInvalid, WorkflowStateError, problem
from workflows.models import Workflow
from workflows.services.definitions.editing import _edit
from workflows.services.definitions.guards import (
    Status,
    _locked,
    _person,
    _require,
    status_words,
)
from workflows.services.definitions.rows import _key_new, _rows_write, _validated

# Deriving a key from a name races with another create of the same name; try again.
KEY_ATTEMPTS = 5


# -- the services -----------------------------------------------------------------------


def workflow_create(*, document: dict[str, Any], actor: Actor) -> Workflow:
    """Create a draft workflow (version 1) from a document; its key from the name unless given.

    Raises ``WorkflowInvalid`` with every problem (nothing saved) and
    ``PermissionDenied`` for a person without ``workflows.add_workflow``.
    """
    _require(actor, "workflows.add_workflow")
    normalised = _validated(document, current_key=None)
    given = normalised.get("key") or None
    for _ in range(KEY_ATTEMPTS):
        try:
            with transaction.atomic():
                workflow = Workflow(
                    key=given or _key_new(normalised["name"]),
                    version=1,
                    status=Status.DRAFT,
                    created_by=_person(actor),
                )
                _rows_write(workflow, normalised)
                audit_log(
                    action="workflows.workflow_created",
                    actor=actor,
                    subject=workflow,
                    data={
                        "key": workflow.key,
                        "version": 1,
                        "steps": len(normalised["steps"]),
                    },
                )
            return workflow
        except IntegrityError:
            # Another create took the same key between our check and our insert.
            if given:
                break
    raise WorkflowInvalid(
        [problem("KEY_TAKEN", "a workflow with this key was created meanwhile", path="key")]
    )


def workflow_update(*, workflow_id: int, document: dict[str, Any], actor: Actor) -> Workflow:
    """Replace a workflow's document; a published version gives the new draft version.

    Returns the draft that was changed (``workflow_id`` itself when it is a draft).
    """
    return _edit(
        workflow_id=workflow_id,
        actor=actor,
        change=lambda _current: copy.deepcopy(document),
        what="document",
    )


def workflow_delete(*, workflow_id: int, actor: Actor) -> None:
    """Delete a draft that has no runs; a published version is retired instead."""
    _require(actor, "workflows.delete_workflow")
    with transaction.atomic():
        workflow = _locked(workflow_id)
        if workflow.status != Status.DRAFT:
            hint = " (retire it instead)" if workflow.status == Status.PUBLISHED else ""
            raise WorkflowStateError(
                f"{workflow} is {status_words(workflow.status)}: only a draft can be deleted{hint}"
            )
        if workflow.runs.exists():
            raise WorkflowStateError(f"{workflow} has runs: it cannot be deleted")
        audit_log(
            action="workflows.workflow_deleted",
            actor=actor,
            subject=workflow,
            data={"key": workflow.key, "version": workflow.version, "name": workflow.name},
        )
        workflow.delete()
