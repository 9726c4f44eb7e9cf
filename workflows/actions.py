"""Handlers that run after a person approves a workflows decision (``decisions.actions``).

Imported from ``WorkflowsConfig.ready`` so the registry knows them before any decision
is applied.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from decisions.actions import action_register
from workflows.services.definitions import (
    PUBLISH_ACTION,
    workflow_publish_approved,
    workflow_publish_premise_failure,
)
from workflows.services.governance import (
    STEP_APPROVE_ACTION,
    step_approve_premise_failure,
    step_run_approved,
)

if TYPE_CHECKING:
    from decisions.models import Decision


# Idempotent: the handler's writes commit with the decision's "applied", so a re-run
# happens only when the first one rolled back; and the premise (the version still
# pending_approval, its document unchanged) refuses a run on a version that moved on.
@action_register(PUBLISH_ACTION, idempotent=True, premise=workflow_publish_premise_failure)
def workflow_publish_apply(*, args: dict[str, Any], decision: Decision) -> dict[str, Any]:
    workflow = workflow_publish_approved(
        workflow_id=int(args["workflow_id"]), digest=str(args["digest"]), decision=decision
    )
    return {"workflow_id": workflow.pk, "version": workflow.version, "status": workflow.status}


# Idempotent in effect: the step run moves WAITING → PENDING by compare-and-set in the
# handler's transaction, so a re-run after a rollback applies once; the premise (still
# waiting, its run open, the same resolved config digest) refuses anything stale.
@action_register(STEP_APPROVE_ACTION, idempotent=True, premise=step_approve_premise_failure)
def step_approve_apply(*, args: dict[str, Any], decision: Decision) -> dict[str, Any]:
    step_run = step_run_approved(
        step_run_id=int(args["step_run_id"]), digest=str(args["digest"]), decision=decision
    )
    return {"step_run_id": step_run.pk, "status": step_run.status}
