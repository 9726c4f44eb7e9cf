"""The copilot's handler: install its system workflow, run it for a person, report the edits.

The copilot is nothing special: a system workflow (``workflows/copilot/copilot.json``)
made of generic blocks that edits the workflow in focus through the public REST API,
with a token scoped to that workflow (``workflows.internal_token``, enforced in
``workflows.api.auth``). This module only installs it, starts it and reads the result.

Install (``copilot_install``): the shipped document is created and published by the
system (actor ``None``), audited as any publish, without the ``new_workflow`` decision a
person's new workflow asks for: it is code reviewed and shipped with the application
(like a migration), not a user's new automation, and it can only edit drafts, never
publish, so no governance line is crossed by installing it. A changed shipped document
becomes the next version the same way (the old one is retired).

Atomic batches (``copilot_ask``): each edit is its own API write (validated, audited
with the person's request as its ``intent``), so the handler makes the batch all or
none: it snapshots the draft the edits go to before the run and, if the run does not
succeed or leaves a graph the validator refuses, puts the snapshot back (or deletes a
draft the run itself made), audited as ``workflows.copilot_rolled_back``. A batch API
was the other choice; it would need a second write path beside the one the copilot
shares with every user, which the design asks us not to have.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db import transaction

from decisions.services import audit_log
from workflows.copilot import COPILOT_KEY, DOCUMENT_PATH
from workflows.errors import RunInputInvalid, WorkflowInvalid, WorkflowStateError, problem
from workflows.graph import document_normalise
from workflows.models import Run, RunTrigger, Workflow
from workflows.selectors import document_problems, workflow_document
from workflows.services.definitions import workflow_create, workflow_delete, workflow_update
from workflows.services.definitions.guards import _locked
from workflows.services.definitions.publish import _publish_now
from workflows.services.execution import run_execute_here
from workflows.services.runs import run_cancel, run_start

#: How long a request may take end to end before the handler stops waiting (seconds).
#: The run's own timeout (the document's ``timeout_seconds``) bounds it as well.
DEFAULT_WAIT_SECONDS = 300.0
MESSAGE_MAX = 4000


@dataclass
class CopilotAnswer:
    """What the copilot answered and what it changed (the API's and the command's output)."""

    text: str
    thread: str
    run_id: int
    status: str
    #: ``{op, step|edge, before, after}`` per change, from diffing the draft.
    edits: list[dict[str, Any]] = field(default_factory=list)
    #: The validator's problems with the draft after the request; [] when valid.
    validation: list[dict[str, Any]] = field(default_factory=list)
    #: The draft the edits are in (``None`` when nothing was changed and there is none).
    draft_id: int | None = None
    rolled_back: bool = False


def copilot_document() -> dict[str, Any]:
    """The shipped copilot document (``workflows/copilot/copilot.json``)."""
    document: dict[str, Any] = json.loads(DOCUMENT_PATH.read_text(encoding="utf-8"))
    return document


def copilot_install() -> Workflow:
    """The published copilot workflow, created or upgraded from the shipped document.

    Idempotent: when the published version's document is the shipped one, it is
    returned as is. Otherwise the shipped document becomes a draft (version 1, or the
    next version) that the system publishes at once (see the module's note on why it
    skips the ``new_workflow`` decision), retiring the older version; all audited.
    """
    shipped = document_normalise(copilot_document())
    published = Workflow.objects.filter(key=COPILOT_KEY, status=Workflow.Status.PUBLISHED).first()
    if published is not None and _same(published, shipped):
        return published
    if not Workflow.objects.filter(key=COPILOT_KEY).exists():
        try:
            draft = workflow_create(document=shipped, actor=None)
        except WorkflowInvalid as refused:
            if not any(p["code"] == "KEY_TAKEN" for p in refused.problems):
                raise
            return copilot_install()  # another install won the race: look again
    else:
        anchor = published or Workflow.objects.filter(key=COPILOT_KEY).order_by("-version")[0]
        draft = workflow_update(workflow_id=anchor.pk, document=shipped, actor=None)
    with transaction.atomic():
        locked = _locked(draft.pk)
        current = Workflow.objects.filter(key=COPILOT_KEY, status=Workflow.Status.PUBLISHED).first()
        if current is not None and _same(current, shipped):
            return current  # published meanwhile by a concurrent install
        _publish_now(locked, actor=None, data={"rule": "system_install", "decision": None})
    return locked


def _same(workflow: Workflow, shipped: dict[str, Any]) -> bool:
    return bool(document_normalise(workflow_document(workflow=workflow)) == shipped)


def _draft_of(key: str) -> Workflow | None:
    return (
        Workflow.objects.filter(key=key, status=Workflow.Status.DRAFT).order_by("-version").first()
    )


def copilot_ask(
    *,
    user: User,
    workflow_id: int,
    message: str,
    thread: str | None = None,
    wait_seconds: float = DEFAULT_WAIT_SECONDS,
) -> CopilotAnswer:
    """Ask the copilot about workflow ``workflow_id`` as ``user``; wait for its answer.

    Starts the system workflow (installed on first use) and drives it here to its end
    (``run_execute_here``, safe beside a worker), bounded by ``wait_seconds`` and the
    run's timeout. The edits it made are the diff of the draft before and after; when
    the run did not succeed, or left an invalid draft, they are undone (all or none).
    Raises ``PermissionDenied`` without view and change permission on workflows,
    ``Workflow.DoesNotExist`` for an unknown workflow, ``RunInputInvalid`` naming a bad
    message or thread (nothing started).
    """
    for permission in ("workflows.view_workflow", "workflows.change_workflow"):
        if not user.has_perm(permission):
            raise PermissionDenied(f"the copilot edits workflows: you need {permission}")
    problems = []
    if not isinstance(message, str) or not message.strip():
        problems.append(problem("INPUT", "message: write what you want done", path="message"))
    elif len(message) > MESSAGE_MAX:
        problems.append(
            problem("INPUT", f"message: at most {MESSAGE_MAX} characters", path="message")
        )
    if problems:
        raise RunInputInvalid(problems)
    focus = Workflow.objects.get(pk=workflow_id)
    if focus.is_system:
        raise WorkflowStateError(f"{focus} is a system workflow: the copilot does not edit it")
    thread = thread or uuid.uuid4().hex[:16]
    copilot = copilot_install()
    draft_before = _draft_of(focus.key)
    before = workflow_document(workflow=draft_before or focus)
    run = run_start(
        workflow=copilot,
        input={
            "user": str(user.pk),
            "workflow": focus.pk,
            "workflow_key": focus.key,
            "thread": thread,
            "message": message,
            "mode": "edit",
        },
        triggered_by=user,
        trigger=RunTrigger.COPILOT,
        subject=f"copilot: {focus.key}",
    )
    wait = min(wait_seconds, float(getattr(settings, "COPILOT_WAIT_SECONDS", wait_seconds)))
    run = run_execute_here(run_id=run.pk, timeout=wait)
    if run.status in Run.OPEN_STATUSES:
        # Bounded: a run that outlives the wait is stopped, so nothing edits afterwards.
        try:
            run = run_cancel(run_id=run.pk, actor=user)
        except WorkflowStateError:
            run.refresh_from_db()
    draft_after = _draft_of(focus.key)
    after = workflow_document(workflow=draft_after) if draft_after else before
    validation: list[dict[str, Any]] = [dict(p) for p in document_problems(document=after)]
    edits = document_diff(before=before, after=after)
    rolled_back = False
    if edits and (run.status != Run.Status.SUCCEEDED or validation):
        _rollback(
            user=user, run=run, before=before, draft_before=draft_before, draft_after=draft_after
        )
        rolled_back = True
        draft_after = draft_before
        validation = [dict(p) for p in document_problems(document=before)]
    output = run.output if isinstance(run.output, dict) else {}
    text = str(output.get("text") or "")
    if run.status != Run.Status.SUCCEEDED:
        text = _failure_text(run, rolled_back=rolled_back)
    return CopilotAnswer(
        text=text,
        thread=thread,
        run_id=run.pk,
        status=run.status,
        edits=[] if rolled_back else edits,
        validation=validation,
        draft_id=draft_after.pk if draft_after else None,
        rolled_back=rolled_back,
    )


def _failure_text(run: Run, *, rolled_back: bool) -> str:
    """What a person reads when the run did not succeed: never a claim of success."""
    undone = " Its edits were undone; the draft is as it was." if rolled_back else ""
    return f"The copilot did not finish (run #{run.pk} {run.status}).{undone}"


def _rollback(
    *,
    user: User,
    run: Run,
    before: dict[str, Any],
    draft_before: Workflow | None,
    draft_after: Workflow | None,
) -> None:
    """Put the draft back as it was before the run (all or none), audited.

    The restore goes through the same definition services (validated, audited with the
    intent); acting as the system, because undoing the person's own half-made batch
    must not fail for lack of a delete permission they never used.
    """
    intent = f"copilot run #{run.pk} undone: {run.status}"
    if draft_after is None:
        return
    if draft_before is None:
        # The run's first edit made this draft from the published version: remove it.
        workflow_delete(workflow_id=draft_after.pk, actor=None)
    else:
        workflow_update(workflow_id=draft_before.pk, document=before, actor=None)
    audit_log(
        action="workflows.copilot_rolled_back",
        actor=user,
        subject=run,
        data={"workflow": draft_after.key, "draft": draft_after.pk, "intent": intent},
    )


def _edge_key(edge: dict[str, Any]) -> tuple[str, str, str]:
    return (str(edge.get("from")), str(edge.get("port") or "out"), str(edge.get("to")))


def document_diff(*, before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """The steps and edges that differ between two documents, as edit records.

    Steps are matched by name (``step_added``/``step_updated``/``step_deleted`` with the
    step's document before and after), edges by (from, port, to).
    """
    edits: list[dict[str, Any]] = []
    old = {s["name"]: s for s in before.get("steps", [])}
    new = {s["name"]: s for s in after.get("steps", [])}
    for name in [*old, *[n for n in new if n not in old]]:
        was, now = old.get(name), new.get(name)
        if was == now:
            continue
        op = "step_added" if was is None else "step_deleted" if now is None else "step_updated"
        edits.append({"op": op, "step": name, "before": was, "after": now})
    old_edges = {_edge_key(e) for e in before.get("edges", [])}
    new_edges = {_edge_key(e) for e in after.get("edges", [])}
    for key in sorted(new_edges - old_edges):
        edge = {"from": key[0], "port": key[1], "to": key[2]}
        edits.append({"op": "edge_added", "edge": edge, "before": None, "after": edge})
    for key in sorted(old_edges - new_edges):
        edge = {"from": key[0], "port": key[1], "to": key[2]}
        edits.append({"op": "edge_deleted", "edge": edge, "before": edge, "after": None})
    return edits
