"""Publish and retire, through governance.

Publishing goes through governance (``decisions.services.policy_check``): a key never
published (``new_workflow``) or an http step to a host no published version used
before (``new_integration``) makes the version ``pending_approval`` and asks a person
(``decision_request`` with the action ``workflows.workflow_publish``,
``workflows/actions.py``); otherwise it is published at once.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from decisions.actors import Actor
from decisions.models import Decision, DecisionKind
from decisions.policy import ActionProposal, Verdict
from decisions.services import audit_log, decision_request, policy_check
from workflows.errors import WorkflowInvalid, WorkflowStateError
from workflows.models import Workflow
from workflows.selectors import (
    document_digest,
    document_hosts,
    document_problems,
    hosts_published,
    key_was_published,
    publish_decision_pending,
    workflow_document,
)
from workflows.services.definitions.guards import (
    Status,
    _locked,
    _person,
    _require,
    _transition,
    status_words,
)

PUBLISH_ACTION = "workflows.workflow_publish"


# -- publish and retire -----------------------------------------------------------------


def publish_proposal(*, workflow: Workflow, document: dict[str, Any]) -> ActionProposal:
    """What publishing ``workflow`` would do, as the policy sees it.

    A key never published is a ``new_workflow``; an http step to a host no published
    version used (or whose host is a template: it can reach anywhere) is a
    ``new_integration``. Anything else is a routine change of an approved workflow,
    proposed as a ``parameter_tweak`` of size 0: the policy has no kind of its own for
    it, and going through ``policy_check`` still honours AUTO_EXECUTION_ENABLED=false.
    """
    hosts, variable = document_hosts(document=document)
    new_hosts = sorted(hosts - hosts_published())
    extra = {"new_hosts": new_hosts, "variable_hosts": variable}
    label = f"workflow {workflow.name!r} ({workflow.key}) v{workflow.version}"
    if not key_was_published(key=workflow.key):
        return ActionProposal(kind="new_workflow", summary=f"publish new {label}", extra=extra)
    if new_hosts or variable:
        return ActionProposal(
            kind="new_integration",
            summary=f"publish {label}, which calls new hosts",
            extra=extra,
        )
    return ActionProposal(
        kind="parameter_tweak",
        summary=f"publish {label}, a new version with no new integration",
        change_fraction=0.0,
        extra=extra,
    )


def _situation(workflow: Workflow, document: dict[str, Any], proposal: ActionProposal) -> str:
    lines = [
        f"Publish {workflow.name!r} (key {workflow.key}, version {workflow.version}): "
        f"{len(document['steps'])} steps, {len(document['edges'])} edges.",
    ]
    if proposal.kind == "new_workflow":
        lines.append("No version of this workflow was ever published.")
    if proposal.extra["new_hosts"]:
        lines.append("New hosts it calls: " + ", ".join(proposal.extra["new_hosts"]) + ".")
    if proposal.extra["variable_hosts"]:
        lines.append(
            "Steps whose host comes from a template (they may call any host): "
            + "; ".join(proposal.extra["variable_hosts"])
            + "."
        )
    return "\n".join(lines)


def _publish_now(workflow: Workflow, *, actor: Actor, data: dict[str, Any]) -> Workflow | None:
    """Publish ``workflow`` (key locked by the caller), retiring the published version."""
    current = (
        Workflow.objects.filter(key=workflow.key, status=Status.PUBLISHED)
        .exclude(pk=workflow.pk)
        .first()
    )
    if current is not None:
        _transition(
            current,
            Status.RETIRED,
            actor=actor,
            action="workflows.workflow_retired",
            data={"replaced_by": workflow.pk},
        )
    _transition(
        workflow,
        Status.PUBLISHED,
        actor=actor,
        action="workflows.workflow_published",
        data={"retired": current.pk if current else None, **data},
        published_at=timezone.now(),
    )
    return current


def workflow_publish(*, workflow_id: int, actor: Actor) -> Workflow:
    """Publish a draft, through governance.

    When the policy needs a person the version becomes ``pending_approval`` with a
    Decision (asking again while one is pending returns the same); otherwise it is
    published at once and the version published before it is retired. A version whose
    decision was rejected or expired may be asked again.
    """
    _require(actor, "workflows.change_workflow")
    with transaction.atomic():
        workflow = _locked(workflow_id)
        if workflow.status == Status.PENDING_APPROVAL:
            if publish_decision_pending(workflow=workflow) is not None:
                return workflow
        elif workflow.status != Status.DRAFT:
            raise WorkflowStateError(
                f"{workflow} is {status_words(workflow.status)}: only a draft can be published"
            )
        document = workflow_document(workflow=workflow)
        problems = document_problems(document=document)
        if problems:
            raise WorkflowInvalid(problems)
        proposal = publish_proposal(workflow=workflow, document=document)
        verdict = policy_check(proposal=proposal)
        if verdict.automatic:
            _publish_now(workflow, actor=actor, data={"rule": verdict.rule, "decision": None})
            return workflow
        _submit(workflow, document=document, proposal=proposal, verdict=verdict, actor=actor)
    return workflow


def _submit(
    workflow: Workflow,
    *,
    document: dict[str, Any],
    proposal: ActionProposal,
    verdict: Verdict,
    actor: Actor,
) -> Decision:
    kind = verdict.decision_kind if verdict.decision_kind in DecisionKind.values else "other"
    decision = decision_request(
        kind=kind,
        title=f"Publish workflow {workflow.name} v{workflow.version}"[:200],
        situation=_situation(workflow, document, proposal),
        impact=verdict.reason,
        options=[
            {
                "key": "publish",
                "label": f"Publish v{workflow.version}",
                "impact": "Runs, schedules and goals may use it at once.",
                "recommended": True,
            },
            {"key": "reject", "label": "Keep it unpublished", "impact": "It stays a draft."},
        ],
        action=PUBLISH_ACTION,
        action_args={
            "workflow_id": workflow.pk,
            "version": workflow.version,
            "digest": document_digest(document),
        },
        subject=workflow,
        requested_by=_person(actor),
    )
    data = {
        "decision": decision.pk,
        "kind": kind,
        "rule": verdict.rule,
        "reason": verdict.reason,
        "new_hosts": proposal.extra["new_hosts"],
        "variable_hosts": proposal.extra["variable_hosts"],
    }
    if workflow.status == Status.DRAFT:
        _transition(
            workflow,
            Status.PENDING_APPROVAL,
            actor=actor,
            action="workflows.workflow_submitted",
            data=data,
        )
    else:  # asked again after a rejected or expired decision
        audit_log(action="workflows.workflow_submitted", actor=actor, subject=workflow, data=data)
    return decision


def workflow_publish_premise_failure(args: dict[str, Any]) -> str | None:
    """Why an approved publish must not run: the version moved on or changed."""
    workflow_id = args.get("workflow_id")
    workflow = (
        Workflow.objects.filter(pk=workflow_id).first() if isinstance(workflow_id, int) else None
    )
    if workflow is None:
        return f"workflow #{args.get('workflow_id')} no longer exists"
    if workflow.status != Status.PENDING_APPROVAL:
        return f"{workflow} is {status_words(workflow.status)}, no longer waiting"
    if document_digest(workflow_document(workflow=workflow)) != args.get("digest"):
        return f"{workflow} changed since the decision was asked"
    return None


def workflow_publish_approved(*, workflow_id: int, digest: str, decision: Decision) -> Workflow:
    """Publish the version a person approved (the decision's action, run once)."""
    with transaction.atomic():
        workflow = _locked(workflow_id)
        failure = workflow_publish_premise_failure({"workflow_id": workflow_id, "digest": digest})
        if failure:
            raise WorkflowStateError(failure)
        _publish_now(
            workflow,
            actor=decision.decided_by,
            data={"rule": "approved", "decision": decision.pk},
        )
    return workflow


def workflow_retire(*, workflow_id: int, actor: Actor) -> Workflow:
    """Retire a published version (or abandon a draft): runs no longer start on it."""
    _require(actor, "workflows.change_workflow")
    with transaction.atomic():
        workflow = _locked(workflow_id)
        _transition(workflow, Status.RETIRED, actor=actor, action="workflows.workflow_retired")
    return workflow
