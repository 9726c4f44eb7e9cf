"""``manage.py telegram check``: is the bot reachable, what is it called, and how do
updates arrive (long polling, or the webhook)."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from bizagent.telegram import TelegramError, telegram_client


class Command(BaseCommand):
    help = "Check the Telegram bot: its @name and whether polling or the webhook is in use."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["check"])

    def handle(self, *args: object, **options: object) -> None:
        try:
            bot = telegram_client().get_me()
            webhook = telegram_client().get_webhook_info()
        except TelegramError as exc:
            # The client's messages never hold the token.
            raise CommandError(f"Telegram check failed: {exc}") from None
        self.stdout.write(f"bot: @{bot.username} ({bot.first_name})")
        url = str(webhook.get("url") or "")
        if settings.TELEGRAM_WEBHOOK_SECRET:
            where = f"webhook at {url}" if url else "webhook (not registered with Telegram yet)"
            self.stdout.write(f"updates: {where} (BIZAGENT_TELEGRAM_WEBHOOK_SECRET is set)")
        elif url:
            raise CommandError(
                f"updates: Telegram has a webhook set ({url}) but "
                "BIZAGENT_TELEGRAM_WEBHOOK_SECRET is unset, so polling cannot read updates; "
                "delete the webhook or set the secret"
            )
        else:
            self.stdout.write("updates: long polling (the decisions.telegram_poll schedule)")
