"""``audit_log``: the one writer of the append-only audit log."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction

from bizagent.sql import rows_insert
from decisions.actors import Actor, Person
from decisions.audit import AUDIT_ACTIONS
from decisions.mirror import sheet_rows_enqueue_audit
from decisions.models import AuditEvent


def _actor(actor: Actor) -> Person | None:
    if actor is None or not getattr(actor, "is_authenticated", False):
        return None
    # Authenticated means a person: an AnonymousUser never is.
    return cast("Person", actor)


@dataclass(frozen=True)
class AuditEntry:
    """One event for ``audit_log_many``: the arguments of ``audit_log``."""

    action: str
    actor: Actor = None
    subject: models.Model | None = None
    data: dict[str, Any] | None = None


def _event_build(entry: AuditEntry) -> AuditEvent:
    action, subject = entry.action, entry.subject
    if action not in AUDIT_ACTIONS:
        raise ValueError(
            f"unknown audit action {action!r}: register it with "
            "decisions.audit.audit_action_register before logging it"
        )
    # Round-trip through JSON now, so a value that cannot be stored fails here with the
    # action's name, not later in the database driver.
    try:
        data = json.loads(json.dumps(entry.data or {}, cls=DjangoJSONEncoder, ensure_ascii=False))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"audit data for {action!r} is not JSON-serialisable: {exc}") from exc
    event = AuditEvent(action=action, actor=_actor(entry.actor), data=data)
    if subject is not None:
        event.subject_type = ContentType.objects.get_for_model(subject, for_concrete_model=False)
        event.subject_id = str(subject.pk) if subject.pk is not None else ""
        event.subject_repr = str(subject)[:200]
    return event


def audit_log_many(*, entries: Sequence[AuditEntry]) -> list[AuditEvent]:
    """Record several events in two inserts (the events, then their Sheets outbox rows).

    For a service that changes many rows at once (the loop writing an answer's ideas):
    one event per changed row, as ``audit_log`` would write, at a fixed cost. Call it
    inside the transaction of the changes it records.
    """
    events = [_event_build(entry) for entry in entries]
    if not events:
        return []
    # No savepoint of its own: inside the caller's transaction a failed insert fails the
    # change it records (which is what should happen); outside one, it is its own.
    with transaction.atomic(savepoint=False):
        # Written out: bulk_create's machinery cost more than the insert it runs.
        rows_insert(AuditEvent, events)
        sheet_rows_enqueue_audit(events=events)
    return events


def audit_log(
    *,
    action: str,
    actor: Actor = None,
    subject: models.Model | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Record that ``actor`` (a user, or None when the system acted) did ``action``.

    Call it inside the transaction of the change it records: the event and its Sheets
    outbox row then commit (or roll back) with the change itself.
    """
    entry = AuditEntry(action=action, actor=actor, subject=subject, data=data)
    return audit_log_many(entries=[entry])[0]
