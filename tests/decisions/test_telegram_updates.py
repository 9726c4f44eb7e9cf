"""How updates arrive: ``telegram_poll`` (offset in the database, advanced only after the
batch is handled) and the webhook view (secret compared in constant time, 403 otherwise)."""

from __future__ import annotations

import json

import pytest

from decisions.models import TelegramLink, TelegramPollState
from decisions.services.telegram import telegram_link_token_issue, telegram_poll
from decisions.services.telegram import updates as service

pytestmark = pytest.mark.django_db

SECRET = "hook-secret_123"


def test_polling_handles_the_batch_then_advances_the_offset(telegram, alice):
    token = telegram_link_token_issue(user=alice)
    first = telegram.update_add(**telegram.start_message(user_id=777, text=f"/start {token}"))
    second = telegram.update_add(message={"message_id": 2, "text": "hi", "chat": {"id": 5}})
    assert telegram_poll(timeout=0) == "2 updates"
    assert TelegramLink.objects.get(user=alice).telegram_user_id == 777
    assert TelegramPollState.objects.get().offset == second["update_id"] + 1
    assert telegram_poll(timeout=0) == "0 updates"
    asked = [body.get("offset") for name, body in telegram.calls if name == "getUpdates"]
    assert asked == [None, second["update_id"] + 1]
    assert first["update_id"] < second["update_id"]


def test_a_crash_mid_batch_leaves_the_offset_so_the_batch_comes_again(telegram, monkeypatch):
    telegram.update_add(message={"message_id": 2, "text": "hi", "chat": {"id": 5}})

    def crash(**kwargs):
        raise RuntimeError("worker died")

    monkeypatch.setattr(service, "telegram_update_handle", crash)
    with pytest.raises(RuntimeError):
        telegram_poll(timeout=0)
    assert TelegramPollState.objects.get().offset == 0


def test_polling_stands_aside_when_the_webhook_is_in_use(telegram, settings):
    settings.TELEGRAM_WEBHOOK_SECRET = SECRET
    assert telegram_poll(timeout=0) == "webhook in use"
    assert telegram.count("getUpdates") == 0


@pytest.mark.parametrize("given", [None, "", "wrong", SECRET + "x"])
def test_the_webhook_refuses_a_wrong_secret(client, telegram, settings, alice, given):
    settings.TELEGRAM_WEBHOOK_SECRET = SECRET
    token = telegram_link_token_issue(user=alice)
    headers = {} if given is None else {"HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN": given}
    response = client.post(
        "/decisions/telegram/webhook/",
        data=json.dumps(
            telegram.start_message(user_id=777, text=f"/start {token}") | {"update_id": 1}
        ),
        content_type="application/json",
        **headers,
    )
    assert response.status_code == 403
    assert not TelegramLink.objects.exists()


def test_the_webhook_is_closed_without_a_configured_secret(client, telegram, settings):
    settings.TELEGRAM_WEBHOOK_SECRET = None
    response = client.post(
        "/decisions/telegram/webhook/",
        data="{}",
        content_type="application/json",
        HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN="",
    )
    assert response.status_code == 403


def test_the_webhook_handles_an_update_with_the_right_secret(client, telegram, settings, alice):
    settings.TELEGRAM_WEBHOOK_SECRET = SECRET
    token = telegram_link_token_issue(user=alice)
    response = client.post(
        "/decisions/telegram/webhook/",
        data=json.dumps(
            telegram.start_message(user_id=777, text=f"/start {token}") | {"update_id": 1}
        ),
        content_type="application/json",
        HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN=SECRET,
    )
    assert response.status_code == 200
    assert response.json() == {"handled": "linked"}
    assert TelegramLink.objects.get(user=alice).telegram_user_id == 777


def test_the_webhook_refuses_a_body_that_is_not_an_update(client, telegram, settings):
    settings.TELEGRAM_WEBHOOK_SECRET = SECRET
    response = client.post(
        "/decisions/telegram/webhook/",
        data="[1, 2]",
        content_type="application/json",
        HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN=SECRET,
    )
    assert response.status_code == 400
    assert "JSON object" in response.json()["error"]
