"""Writing workflow definitions: documents to rows, versions, publish and retire.

Every write validates the whole resulting document with the one validator
(``document_problems``) and saves it atomically: an invalid document raises
``WorkflowInvalid`` with every problem and changes nothing. A published (or retired)
version is never changed: editing it makes the next draft version of the same key (or
reuses the open draft) and returns that.

Race safety: every write locks all the versions of the workflow's key (PostgreSQL:
``SELECT … FOR UPDATE`` in pk order, so two writers never deadlock; SQLite: the
IMMEDIATE transaction already serialises writers) and reads the document only once it
holds the lock, so two concurrent edits never lose one another. Each write's audit row
commits with it.

Publishing goes through governance (``decisions.services.policy_check``): a key never
published (``new_workflow``) or an http step to a host no published version used
before (``new_integration``) makes the version ``pending_approval`` and asks a person
(``decision_request`` with the action ``workflows.workflow_publish``,
``workflows/actions.py``); otherwise it is published at once.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_slug
from django.db import IntegrityError, transaction
from django.db.models import Max, ProtectedError
from django.utils import timezone
from django.utils.text import slugify

from decisions.actors import Actor
from decisions.models import Decision, DecisionKind
from decisions.policy import ActionProposal, Verdict
from decisions.services import audit_log, decision_request, policy_check
from workflows.errors import Problem, WorkflowInvalid, WorkflowStateError, problem
from workflows.graph import document_normalise
from workflows.models import Edge, Step, Workflow
from workflows.selectors import (
    document_digest,
    document_hosts,
    document_problems,
    hosts_published,
    key_was_published,
    publish_decision_pending,
    workflow_document,
)
from workflows.services import transitions

PUBLISH_ACTION = "workflows.workflow_publish"
KEY_MAX = 80
# Deriving a key from a name races with another create of the same name; try again.
KEY_ATTEMPTS = 5

Status = Workflow.Status


# -- guards -----------------------------------------------------------------------------


def _require(actor: Actor, permission: str) -> None:
    """A person needs ``permission``; ``None`` is the system (a command, a decision)."""
    if actor is not None and not actor.has_perm(permission):
        raise PermissionDenied(f"this needs the {permission} permission")


def _locked(workflow_id: int) -> Workflow:
    """Lock every version of the workflow's key (pk order) and return the one asked for.

    Locking the whole key, not one row, is what keeps "one published version per key"
    and "one new draft version per edit" race-free: publish, retire and versioning all
    touch sibling versions.
    """
    key = Workflow.objects.filter(pk=workflow_id).values_list("key", flat=True).first()
    if key is None:
        raise Workflow.DoesNotExist(f"no workflow #{workflow_id}")
    versions = list(Workflow.objects.select_for_update().filter(key=key).order_by("pk"))
    for workflow in versions:
        if workflow.pk == workflow_id:
            return workflow
    raise Workflow.DoesNotExist(f"no workflow #{workflow_id}")


def _transition(
    workflow: Workflow,
    to: str,
    *,
    actor: Actor,
    action: str,
    data: dict[str, Any] | None = None,
    **fields: Any,
) -> None:
    """Move ``workflow`` to ``to`` if its table allows it (compare-and-set), audited."""
    source = workflow.status
    if to not in Workflow.TRANSITIONS[source]:
        raise WorkflowStateError(
            f"{workflow} is {workflow.get_status_display().lower()}: it cannot become "
            f"{Status(to).label.lower()}"
        )
    now = timezone.now()
    changed = transitions.status_move(
        Workflow, pk=workflow.pk, sources=[source], target=to, updated_at=now, **fields
    )
    if changed != 1:
        raise WorkflowStateError(f"{workflow} changed meanwhile; look again")
    workflow.status = to
    workflow.updated_at = now
    for name, value in fields.items():
        setattr(workflow, name, value)
    audit_log(
        action=action,
        actor=actor,
        subject=workflow,
        data={"from": source, "to": to, "version": workflow.version, **(data or {})},
    )


# -- documents to rows ------------------------------------------------------------------


def _key_problems(document: Any, *, current: str | None) -> list[Problem]:
    if not isinstance(document, dict) or document.get("key") in (None, ""):
        return []
    key = document["key"]
    if current is not None:
        if key != current:
            return [
                problem(
                    "KEY_MISMATCH",
                    f"the key of a workflow never changes (it is {current!r}): "
                    f"leave it out or give {current!r}",
                    path="key",
                )
            ]
        return []
    try:
        if not isinstance(key, str) or len(key) > KEY_MAX:
            raise ValidationError("bad key")
        validate_slug(key)
    except ValidationError:
        return [
            problem(
                "BAD_KEY",
                f"key must be letters, digits, '-' or '_' (at most {KEY_MAX}), not {key!r}",
                path="key",
            )
        ]
    if Workflow.objects.filter(key=key).exists():
        return [
            problem(
                "KEY_TAKEN",
                f"a workflow with key {key!r} exists already: update it, or give another key",
                path="key",
            )
        ]
    return []


def _validated(document: Any, *, current_key: str | None) -> dict[str, Any]:
    """The document with its defaults filled, or ``WorkflowInvalid`` with every problem."""
    if current_key is not None and isinstance(document, dict) and not document.get("key"):
        # The validator tells a subflow to itself by the key; a draft's key is fixed.
        document = {**document, "key": current_key}
    problems = _key_problems(document, current=current_key) + document_problems(document=document)
    if problems:
        raise WorkflowInvalid(problems)
    return document_normalise(copy.deepcopy(document))


def _key_new(name: str) -> str:
    base = slugify(name)[: KEY_MAX - 4].strip("-") or "workflow"
    key, n = base, 1
    while Workflow.objects.filter(key=key).exists():
        n += 1
        key = f"{base}-{n}"
    return key


def _rows_write(
    workflow: Workflow, document: dict[str, Any], *, renames: dict[str, str] | None = None
) -> None:
    """Make ``workflow``'s rows say what the (valid, normalised) document says.

    Steps are matched by name (``renames`` maps old names to new) and edges by their
    step ids, so unchanged steps and edges keep their ids: an edge id an API client
    holds, and the steps a test run of this draft points at, stay valid.
    """
    workflow.name = document["name"]
    workflow.description = document.get("description") or ""
    workflow.input_schema = document.get("input_schema") or {}
    workflow.output = document.get("output") or {}
    workflow.is_system = bool(document.get("is_system"))
    workflow.timeout_seconds = document.get("timeout_seconds") or workflow.timeout_seconds
    _clean(workflow, exclude=["key"])
    workflow.save()

    existing = {step.name: step for step in workflow.steps.all()}
    for old, new in (renames or {}).items():
        if old in existing:
            existing[new] = existing.pop(old)
    wanted = [step["name"] for step in document["steps"]]
    for name, step in list(existing.items()):
        if name not in wanted:
            try:
                step.delete()
            except ProtectedError:
                raise WorkflowStateError(
                    f"step {name!r} of {workflow} has runs (test runs of this draft) and "
                    "cannot be removed: edit a new version instead"
                ) from None
            del existing[name]
    ids: dict[str, int] = {}
    for position, data in enumerate(document["steps"]):
        step = existing.get(data["name"]) or Step(workflow=workflow)
        for field in (
            "name",
            "block",
            "description",
            "config",
            "input_schema",
            "retry",
            "on_error",
            "default_output",
            "timeout_seconds",
            "tool_only",
            "idempotent",
        ):
            if field in data:
                setattr(step, field, data[field] if data[field] is not None else _null(field))
        step.description = step.description or ""
        step.position = position
        _clean(step, exclude=["workflow"], step=data["name"])
        step.save()
        ids[step.name] = step.pk

    wanted_edges = {
        (ids[e["from"]], e.get("port") or "out", ids[e["to"]]) for e in document["edges"]
    }
    for edge in workflow.edges.all():
        if (edge.source_id, edge.port, edge.target_id) not in wanted_edges:
            edge.delete()
        else:
            wanted_edges.discard((edge.source_id, edge.port, edge.target_id))
    Edge.objects.bulk_create(
        Edge(workflow=workflow, source_id=source, port=port, target_id=target)
        for source, port, target in sorted(wanted_edges)
    )


def _null(field: str) -> Any:
    """What a ``null`` in a document means for a column that is not nullable."""
    return {"config": {}, "retry": {}, "description": ""}.get(field)


def _clean(row: Workflow | Step, *, exclude: list[str], step: str | None = None) -> None:
    # The validator checked the document; this catches what only the columns know
    # (lengths, choices) as problems rather than a database error.
    try:
        row.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise WorkflowInvalid(
            [
                problem("TYPE", f"{field}: {' '.join(messages)}", step=step, path=field)
                for field, messages in exc.message_dict.items()
            ]
        ) from None


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


def _person(actor: Actor) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None


def _edit(
    *,
    workflow_id: int,
    actor: Actor,
    change: Callable[[dict[str, Any]], dict[str, Any]],
    what: str,
    data: dict[str, Any] | None = None,
    renames: dict[str, str] | None = None,
) -> Workflow:
    """Apply ``change`` to the document of the draft an edit of ``workflow_id`` goes to."""
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
            data={"change": what, "version": draft.version, **(data or {})},
        )
    return draft


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
                f"{workflow} is {workflow.get_status_display().lower()}: only a draft can "
                f"be deleted{hint}"
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


def _step_index(document: dict[str, Any], name: str) -> int:
    for index, step in enumerate(document["steps"]):
        if step.get("name") == name:
            return index
    raise Step.DoesNotExist(f"no step named {name!r}")


def step_add(*, workflow_id: int, step: dict[str, Any], actor: Actor) -> Workflow:
    """Add a step (a step document: name and block at least). Returns the draft changed.

    The whole document must stay valid, and a step with no edge into it is a second
    start (or, tool-only, a tool no agent uses): so ``step`` may carry ``"edges"``, a list
    of edges (``{"from", "port", "to"}``) added in the same write to connect it.
    """

    def change(document: dict[str, Any]) -> dict[str, Any]:
        new = copy.deepcopy(step)
        edges = new.pop("edges", []) if isinstance(new, dict) else []
        document["steps"].append(new)
        if isinstance(edges, list):
            document["edges"].extend(edges)
        else:  # left for the validator to name
            document["edges"].append(edges)
        return document

    return _edit(
        workflow_id=workflow_id,
        actor=actor,
        change=change,
        what="step_added",
        data={"step": step.get("name") if isinstance(step, dict) else None},
    )


def step_update(
    *, workflow_id: int, step_name: str, step: dict[str, Any], actor: Actor
) -> Workflow:
    """Replace step ``step_name`` with ``step`` (its name may change: edges follow it).

    ``Step.DoesNotExist`` when there is no such step.
    """
    new_name = step.get("name", step_name) if isinstance(step, dict) else step_name

    def change(document: dict[str, Any]) -> dict[str, Any]:
        index = _step_index(document, step_name)
        document["steps"][index] = {"name": step_name, **copy.deepcopy(step)}
        if new_name != step_name:
            for edge in document["edges"]:
                for end in ("from", "to"):
                    if edge.get(end) == step_name:
                        edge[end] = new_name
        return document

    return _edit(
        workflow_id=workflow_id,
        actor=actor,
        change=change,
        what="step_updated",
        data={"step": step_name, **({"renamed_to": new_name} if new_name != step_name else {})},
        renames={step_name: new_name} if isinstance(new_name, str) else None,
    )


def step_delete(*, workflow_id: int, step_name: str, actor: Actor) -> Workflow:
    """Remove a step and the edges into and out of it."""

    def change(document: dict[str, Any]) -> dict[str, Any]:
        del document["steps"][_step_index(document, step_name)]
        document["edges"] = [
            edge
            for edge in document["edges"]
            if step_name not in (edge.get("from"), edge.get("to"))
        ]
        return document

    return _edit(
        workflow_id=workflow_id,
        actor=actor,
        change=change,
        what="step_deleted",
        data={"step": step_name},
    )


def _edge_triple(edge: dict[str, Any]) -> tuple[Any, str, Any]:
    return edge.get("from"), edge.get("port") or "out", edge.get("to")


def edge_add(*, workflow_id: int, edge: dict[str, Any], actor: Actor) -> Edge:
    """Add an edge ``{"from": step, "port": "out", "to": step}``; returns the new Edge."""
    triple = _edge_triple(edge)

    def change(document: dict[str, Any]) -> dict[str, Any]:
        if triple in {_edge_triple(e) for e in document["edges"]}:
            raise WorkflowInvalid(
                [
                    problem(
                        "DUPLICATE_EDGE",
                        f"there is an edge from {triple[0]}:{triple[1]} to {triple[2]} already",
                        step=str(triple[0]),
                        path="edges",
                    )
                ]
            )
        document["edges"].append({"from": triple[0], "port": triple[1], "to": triple[2]})
        return document

    draft = _edit(
        workflow_id=workflow_id,
        actor=actor,
        change=change,
        what="edge_added",
        data={"edge": {"from": triple[0], "port": triple[1], "to": triple[2]}},
    )
    return Edge.objects.get(
        workflow=draft, source__name=triple[0], port=triple[1], target__name=triple[2]
    )


def edge_delete(*, workflow_id: int, edge_id: int, actor: Actor) -> Workflow:
    """Remove an edge of ``workflow_id`` (on a published version: from its new draft).

    ``Edge.DoesNotExist`` when the workflow has no such edge.
    """
    row = Edge.objects.select_related("source", "target").get(pk=edge_id, workflow_id=workflow_id)
    triple = (row.source.name, row.port, row.target.name)

    def change(document: dict[str, Any]) -> dict[str, Any]:
        kept = [e for e in document["edges"] if _edge_triple(e) != triple]
        if len(kept) == len(document["edges"]):
            raise Edge.DoesNotExist(f"the draft has no edge {triple[0]}:{triple[1]} → {triple[2]}")
        document["edges"] = kept
        return document

    return _edit(
        workflow_id=workflow_id,
        actor=actor,
        change=change,
        what="edge_deleted",
        data={"edge": {"from": triple[0], "port": triple[1], "to": triple[2]}},
    )


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
                f"{workflow} is {workflow.get_status_display().lower()}: only a draft can be "
                "published"
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
        return f"{workflow} is {workflow.get_status_display().lower()}, no longer waiting"
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


__all__ = [
    "PUBLISH_ACTION",
    "edge_add",
    "edge_delete",
    "publish_proposal",
    "step_add",
    "step_delete",
    "step_update",
    "workflow_create",
    "workflow_delete",
    "workflow_publish",
    "workflow_publish_approved",
    "workflow_publish_premise_failure",
    "workflow_retire",
    "workflow_update",
]
