"""``manage.py telegram check``: the bot's @name, polling or webhook, and the exact reason
when it fails, never the token. ``telegram webhook --url/--delete`` registers and removes
the webhook with its secret."""

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


def webhook(*args: str) -> str:
    out = StringIO()
    call_command("telegram", "webhook", *args, stdout=out)
    return out.getvalue()


HOOK = "https://biz.example.com/decisions/telegram/webhook/"


def test_webhook_registers_the_url_with_the_secret_then_deletes_it(telegram, settings):
    settings.TELEGRAM_WEBHOOK_SECRET = "hook-s3cret"
    assert webhook("--url", HOOK).strip() == f"webhook set: {HOOK}"
    assert telegram.webhook_url == HOOK
    [(_, body)] = [call for call in telegram.calls if call[0] == "setWebhook"]
    assert body == {"url": HOOK, "secret_token": "hook-s3cret"}
    assert "updates: webhook at " + HOOK in check()
    assert "long polling again" in webhook("--delete")
    assert telegram.webhook_url == ""


@pytest.mark.parametrize(
    ("args", "secret", "message"),
    [
        (("--url", HOOK), None, "set BIZAGENT_TELEGRAM_WEBHOOK_SECRET first"),
        (("--url", "http://biz.example.com/hook"), "s", "must be an https address"),
        ((), "s", "give either --url https://<your host>/decisions/telegram/webhook/"),
        (("--url", HOOK, "--delete"), "s", "give either --url"),
    ],
)
def test_webhook_refuses_what_cannot_work_and_registers_nothing(
    telegram, settings, args, secret, message
):
    settings.TELEGRAM_WEBHOOK_SECRET = secret
    with pytest.raises(CommandError, match=message):
        webhook(*args)
    assert telegram.webhook_url == ""
    assert not [call for call in telegram.calls if call[0] in ("setWebhook", "deleteWebhook")]


def test_webhook_says_telegram_refused_without_the_token(telegram, settings):
    settings.TELEGRAM_WEBHOOK_SECRET = "s"
    telegram.fail_next("setWebhook", 400)
    with pytest.raises(CommandError, match="Telegram webhook failed") as caught:
        webhook("--url", HOOK)
    assert TOKEN not in str(caught.value)
