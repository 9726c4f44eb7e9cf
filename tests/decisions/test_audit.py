"""The audit log: append-only, written with the change it records, from a registry."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import transaction
from django.db.models.deletion import ProtectedError

from decisions.audit import AUDIT_ACTIONS, audit_action_register
from decisions.models import AuditEvent, SheetRow
from decisions.models.audit import AuditLogIsAppendOnly
from decisions.services import audit_log

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
WHEN = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def test_an_event_records_actor_subject_data_and_its_sheet_row(alice, make_decision):
    decision = make_decision()
    event = audit_log(
        action="decisions.decision_reminded",
        actor=alice,
        subject=decision,
        data={"when": WHEN, "amount": Decimal("1.50")},
    )
    event.refresh_from_db()
    assert event.actor == alice
    assert event.subject_repr == str(decision)
    assert event.data == {"when": "2026-11-23T09:00:00Z", "amount": "1.50"}
    assert event.uuid is not None
    row = SheetRow.objects.get(uuid=event.uuid)
    assert row.tab == "decision_log" and row.status == SheetRow.Status.PENDING
    assert str(event.uuid) in [str(value) for value in row.values]


def test_anonymous_users_are_recorded_as_the_system():
    from django.contrib.auth.models import AnonymousUser

    event = audit_log(action="decisions.budget_created", actor=AnonymousUser())
    assert event.actor is None


def test_events_cannot_be_changed_or_deleted():
    event = audit_log(action="decisions.budget_created", data={"limit": "1"})
    event.data = {"limit": "1000000"}
    with pytest.raises(AuditLogIsAppendOnly):
        event.save()
    with pytest.raises(AuditLogIsAppendOnly):
        event.delete()
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEvent.objects.filter(pk=event.pk).update(data={})
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEvent.objects.all().delete()
    event.refresh_from_db()
    assert event.data == {"limit": "1"}


def test_people_who_acted_cannot_be_deleted(alice):
    audit_log(action="decisions.budget_created", actor=alice)
    with pytest.raises(ProtectedError):
        alice.delete()


def test_an_event_rolls_back_with_its_change():
    with pytest.raises(RuntimeError), transaction.atomic():
        audit_log(action="decisions.budget_created", data={})
        raise RuntimeError("the change failed")
    assert AuditEvent.objects.count() == 0
    assert SheetRow.objects.count() == 0


def test_unknown_actions_and_unstorable_data_are_refused():
    with pytest.raises(ValueError, match=r"unknown audit action 'decisions\.budget_craeted'"):
        audit_log(action="decisions.budget_craeted")
    with pytest.raises(ValueError, match="not JSON-serialisable"):
        audit_log(action="decisions.budget_created", data={"thing": object()})
    assert AuditEvent.objects.count() == 0 and SheetRow.objects.count() == 0


def test_registry_refuses_bad_names_and_conflicting_descriptions():
    with pytest.raises(ValueError, match="must look like"):
        audit_action_register("NoDot", "x")
    with pytest.raises(ValueError, match="already registered"):
        audit_action_register("decisions.budget_created", "something else")
    audit_action_register("decisions.budget_created", AUDIT_ACTIONS["decisions.budget_created"])


def test_every_action_the_code_logs_is_registered():
    """A typo in an audit action name would otherwise only fail in production."""
    pattern = re.compile(r"""audit_log\(\s*action=["']([^"']+)["']""", re.S)
    used: set[str] = set()
    for app in ("bizagent", "decisions", "goals", "ideas", "workflows"):
        for path in (ROOT / app).rglob("*.py"):
            used |= set(pattern.findall(path.read_text(encoding="utf-8")))
    assert len(used) >= 12, used
    assert used - set(AUDIT_ACTIONS) == set()
