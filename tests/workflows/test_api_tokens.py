"""workflows.services.tokens: made once, stored hashed, checked, revoked, audited."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone

from decisions.models import AuditEvent
from workflows.errors import WorkflowStateError
from workflows.models import ApiToken
from workflows.services.tokens import (
    api_token_authenticate,
    api_token_create,
    api_token_revoke,
)

pytestmark = pytest.mark.django_db


def test_it_returns_the_token_once_and_stores_only_its_hash(alice):
    token, raw = api_token_create(user=alice, name="ci", actor=alice)

    stored = ApiToken.objects.get(pk=token.pk)
    assert stored.digest == hashlib.sha256(raw.encode()).hexdigest()
    assert stored.prefix == raw[:8]
    # The raw token is in no column of the row.
    row = ApiToken.objects.filter(pk=token.pk).values().get()
    assert all(raw not in str(value) for value in row.values())


def test_it_makes_a_different_token_each_time(alice):
    _, first = api_token_create(user=alice, name="a", actor=alice)
    _, second = api_token_create(user=alice, name="b", actor=alice)
    assert first != second


def test_it_audits_creation_with_the_prefix_never_the_token(alice):
    token, raw = api_token_create(user=alice, name="ci", actor=alice)

    event = AuditEvent.objects.get(action="workflows.api_token_created")
    assert event.actor == alice
    assert event.data["prefix"] == token.prefix
    assert raw not in str(event.data)


def test_it_refuses_a_blank_name_and_saves_nothing(alice):
    with pytest.raises(ValueError, match="name"):
        api_token_create(user=alice, name="  ", actor=alice)
    assert not ApiToken.objects.exists()
    assert not AuditEvent.objects.filter(action="workflows.api_token_created").exists()


def test_it_refuses_an_expiry_in_the_past(alice):
    with pytest.raises(ValueError, match="past"):
        api_token_create(
            user=alice, name="old", actor=alice, expires_at=timezone.now() - timedelta(days=1)
        )
    assert not ApiToken.objects.exists()


def test_it_authenticates_the_owner_and_records_the_use(alice):
    token, raw = api_token_create(user=alice, name="ci", actor=alice)

    assert api_token_authenticate(raw) == alice
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_it_refuses_a_wrong_token_with_the_right_prefix(alice):
    _, raw = api_token_create(user=alice, name="ci", actor=alice)
    forged = raw[:-1] + ("A" if raw[-1] != "A" else "B")

    assert api_token_authenticate(forged) is None
    assert api_token_authenticate("") is None
    assert api_token_authenticate("not-a-token") is None


def test_it_refuses_a_revoked_token(alice):
    token, raw = api_token_create(user=alice, name="ci", actor=alice)

    api_token_revoke(token_id=token.pk, actor=alice)

    assert api_token_authenticate(raw) is None
    event = AuditEvent.objects.get(action="workflows.api_token_revoked")
    assert event.data["prefix"] == token.prefix


def test_it_refuses_revoking_twice(alice):
    token, _ = api_token_create(user=alice, name="ci", actor=alice)
    api_token_revoke(token_id=token.pk, actor=alice)

    with pytest.raises(WorkflowStateError, match="already revoked"):
        api_token_revoke(token_id=token.pk, actor=alice)
    assert AuditEvent.objects.filter(action="workflows.api_token_revoked").count() == 1


def test_it_refuses_an_expired_token(alice, time_machine):
    _, raw = api_token_create(
        user=alice, name="ci", actor=alice, expires_at=timezone.now() + timedelta(hours=1)
    )
    assert api_token_authenticate(raw) == alice

    time_machine.move_to(timezone.now() + timedelta(hours=2))
    assert api_token_authenticate(raw) is None


def test_it_refuses_the_token_of_a_deactivated_user(alice):
    _, raw = api_token_create(user=alice, name="ci", actor=alice)
    alice.is_active = False
    alice.save()

    assert api_token_authenticate(raw) is None
