"""decisions.services.person: a person's own language is stored by one service, audited
in the same transaction, and a value that is not a language is refused by name with
nothing written; ``message_language`` reads it for the senders."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from bizagent.notify import message_language
from decisions.models import AuditEvent, PersonSettings
from decisions.services.person import person_language, person_language_set

pytestmark = pytest.mark.django_db


def test_it_stores_the_language_and_audits_the_change(alice):
    assert person_language(user_id=alice.pk) == ""
    assert person_language_set(user=alice, language="en") is True
    assert PersonSettings.objects.get(user=alice).language == "en"
    assert person_language(user_id=alice.pk) == "en"
    [event] = AuditEvent.objects.filter(action="decisions.person_language_changed")
    assert event.actor_id == alice.pk
    assert event.data == {"from": "", "to": "en"}


def test_it_changes_and_clears_the_language(alice):
    person_language_set(user=alice, language="en")
    assert person_language_set(user=alice, language="ja") is True
    assert person_language_set(user=alice, language="") is True
    assert person_language(user_id=alice.pk) == ""
    changes = AuditEvent.objects.filter(action="decisions.person_language_changed").order_by("id")
    assert [e.data for e in changes] == [
        {"from": "", "to": "en"},
        {"from": "en", "to": "ja"},
        {"from": "ja", "to": ""},
    ]


def test_saving_the_same_language_writes_nothing(alice):
    person_language_set(user=alice, language="ja")
    assert person_language_set(user=alice, language="ja") is False
    assert AuditEvent.objects.filter(action="decisions.person_language_changed").count() == 1


def test_it_refuses_an_unknown_language_by_name(alice):
    with pytest.raises(ValidationError) as refused:
        person_language_set(user=alice, language="fr")
    [message] = refused.value.messages
    assert "“fr”" in message
    assert "ja" in message and "en" in message
    assert not PersonSettings.objects.exists()
    assert not AuditEvent.objects.filter(action="decisions.person_language_changed").exists()


def test_message_language_is_the_persons_else_bizagent_language(alice, bob, settings):
    settings.LANGUAGE_CODE = "ja"
    person_language_set(user=bob, language="en")
    assert message_language(bob) == "en"
    assert message_language(alice) == "ja"  # chose nothing: BIZAGENT_LANGUAGE
    assert message_language() == "ja"
    settings.LANGUAGE_CODE = "en"
    person_language_set(user=alice, language="ja")
    assert message_language(alice) == "ja"
