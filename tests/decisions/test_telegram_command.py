"""``manage.py telegram check``: the bot's @name, polling or webhook, and the exact reason
when it fails, never the token."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.decisions.telegram_fake import TOKEN


def check() -> str:
    out = StringIO()
    call_command("telegram", "check", stdout=out)
    return out.getvalue()


def test_it_names_the_bot_and_polling(telegram):
    output = check()
    assert "bot: @bizagent_test_bot (Bizagent)" in output
    assert "updates: long polling" in output


def test_it_names_the_webhook_when_its_secret_is_set(telegram, settings):
    settings.TELEGRAM_WEBHOOK_SECRET = "s3cret"
    telegram.webhook_url = "https://example.com/decisions/telegram/webhook/"
    assert "updates: webhook at https://example.com/decisions/telegram/webhook/" in check()


def test_it_says_a_stray_webhook_blocks_polling(telegram):
    telegram.webhook_url = "https://old.example.com/hook"
    with pytest.raises(CommandError, match="delete the webhook or set the secret"):
        check()


def test_a_refused_token_is_the_reason_without_the_token(telegram, settings):
    settings.TELEGRAM_BOT_TOKEN = TOKEN + "wrong"
    with pytest.raises(CommandError) as caught:
        check()
    assert "HTTP 401" in str(caught.value) and "Unauthorized" in str(caught.value)
    assert TOKEN.split(":")[1] not in str(caught.value)


def test_without_a_token_it_says_which_variable(settings):
    settings.TELEGRAM_BOT_TOKEN = None
    with pytest.raises(CommandError, match="BIZAGENT_TELEGRAM_BOT_TOKEN"):
        check()
