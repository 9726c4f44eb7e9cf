"""What every write starts from: who may act, the lock on the workflow's key, and the
guarded status move.

Race safety: every write locks all the versions of the workflow's key (PostgreSQL:
``SELECT … FOR UPDATE`` in pk order, so two writers never deadlock; SQLite: the
IMMEDIATE transaction already serialises writers) and reads the document only once it
holds the lock, so two concurrent edits never lose one another.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.utils import timezone, translation

from decisions.actors import Actor
from decisions.services import audit_log
from workflows.errors import WorkflowStateError
from workflows.models import Workflow
from workflows.services import transitions

Status = Workflow.Status


# -- guards -----------------------------------------------------------------------------


def status_words(status: str) -> str:
    """A workflow status as the English words of its label ("waiting for approval").

    The services' errors are read by the API's clients and the copilot in English; the
    label itself follows the reader's language, which would mix two languages in one
    sentence.
    """
    with translation.override("en"):
        return str(Workflow.Status(status).label).lower()


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
            f"{workflow} is {status_words(workflow.status)}: it cannot become {status_words(to)}"
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


def _person(actor: Actor) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None
