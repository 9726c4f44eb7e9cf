"""Linking a Telegram account (``telegram_link_token_issue`` / ``telegram_link_bind``
through a ``/start <token>`` update): one-time, hashed, ten minutes; expired, reused,
unknown and foreign tokens bind nothing and are answered; unlink and relink audited."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from decisions.models import AuditEvent, TelegramLink, TelegramLinkToken, TelegramMessage
from decisions.services.telegram import (
    LINK_TOKEN_TTL,
    telegram_link_token_issue,
    telegram_outbox_deliver,
    telegram_unlink,
    telegram_update_handle,
)

pytestmark = pytest.mark.django_db


def start(fake, *, user_id: int, token: str, username: str = "alice_tg") -> str:
    update = fake.update_add(
        **fake.start_message(user_id=user_id, text=f"/start {token}", username=username)
    )
    return telegram_update_handle(update=update)


def replies(fake) -> list[str]:
    telegram_outbox_deliver()
    return [m["text"] for m in fake.sent]


def test_it_binds_the_account_that_opened_the_link_and_says_so(telegram, alice):
    token = telegram_link_token_issue(user=alice)
    assert not TelegramLinkToken.objects.filter(token_hash=token).exists()  # only the hash
    assert TelegramLinkToken.objects.filter(
        token_hash=hashlib.sha256(token.encode()).hexdigest()
    ).exists()
    assert start(telegram, user_id=777, token=token) == "linked"
    link = TelegramLink.objects.get(user=alice)
    assert (link.telegram_user_id, link.chat_id, link.telegram_username) == (777, 777, "alice_tg")
    assert replies(telegram) == ["linked as alice"]
    event = AuditEvent.objects.get(action="decisions.telegram_linked")
    assert event.actor == alice and event.data["telegram_user_id"] == 777
    assert token not in str(event.data)


def test_a_reused_token_binds_nothing(telegram, alice):
    token = telegram_link_token_issue(user=alice)
    start(telegram, user_id=777, token=token)
    assert start(telegram, user_id=888, token=token) == "refused:used"
    assert TelegramLink.objects.get(user=alice).telegram_user_id == 777
    assert "already used" in replies(telegram)[-1]


def test_an_expired_token_binds_nothing(telegram, alice):
    token = telegram_link_token_issue(user=alice)
    with time_machine.travel(timezone.now() + LINK_TOKEN_TTL + timedelta(seconds=1)):
        assert start(telegram, user_id=777, token=token) == "refused:expired"
        assert "expired" in replies(telegram)[-1]
    assert not TelegramLink.objects.exists()


@pytest.mark.parametrize("token", ["made-up-token", "", "a" * 64])
def test_an_unknown_token_binds_nothing(telegram, alice, token):
    telegram_link_token_issue(user=alice)
    assert start(telegram, user_id=777, token=token) == "refused:unknown"
    assert not TelegramLink.objects.exists()
    assert "not valid" in replies(telegram)[-1]


def test_an_account_linked_to_someone_else_is_not_taken_over(telegram, alice, bob):
    start(telegram, user_id=777, token=telegram_link_token_issue(user=alice))
    assert (
        start(telegram, user_id=777, token=telegram_link_token_issue(user=bob)) == "refused:taken"
    )
    assert TelegramLink.objects.get(telegram_user_id=777).user == alice
    assert not TelegramLink.objects.filter(user=bob).exists()


def test_relinking_and_unlinking_are_audited(telegram, alice):
    start(telegram, user_id=777, token=telegram_link_token_issue(user=alice))
    start(telegram, user_id=999, token=telegram_link_token_issue(user=alice))
    assert TelegramLink.objects.get(user=alice).telegram_user_id == 999
    relinked = AuditEvent.objects.get(action="decisions.telegram_relinked")
    assert relinked.data == {"telegram_user_id": 999, "previous": 777}
    assert telegram_unlink(user=alice) is True
    assert not TelegramLink.objects.exists()
    assert AuditEvent.objects.filter(action="decisions.telegram_unlinked").count() == 1
    assert telegram_unlink(user=alice) is False
    assert AuditEvent.objects.filter(action="decisions.telegram_unlinked").count() == 1


def test_a_repeated_update_answers_once(telegram, alice):
    token = telegram_link_token_issue(user=alice)
    update = telegram.update_add(**telegram.start_message(user_id=777, text=f"/start {token}"))
    telegram_update_handle(update=update)
    telegram_update_handle(update=update)  # polling crashed before the offset moved
    assert TelegramMessage.objects.count() == 1
