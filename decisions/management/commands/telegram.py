"""``manage.py telegram check``: is the bot reachable, what is it called, and how do
updates arrive (long polling, or the webhook).

``manage.py telegram webhook --url https://…/decisions/telegram/webhook/`` registers the
webhook with Telegram, with ``BIZAGENT_TELEGRAM_WEBHOOK_SECRET`` as the secret Telegram
echoes in every update; ``telegram webhook --delete`` removes it (back to polling)."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import reverse
from django.utils.translation import gettext as _

from bizagent.command_language import staff_language
from bizagent.telegram import TelegramError, telegram_client


class Command(BaseCommand):
    help = "Check the Telegram bot: its @name and whether polling or the webhook is in use."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["check", "webhook"])
        parser.add_argument(
            "--url", help="webhook: the public https address of the webhook view to register"
        )
        parser.add_argument(
            "--delete", action="store_true", help="webhook: remove the webhook (back to polling)"
        )

    @staff_language
    def handle(self, *args: object, **options: object) -> None:
        if options["action"] == "webhook":
            self._webhook(url=str(options.get("url") or ""), delete=bool(options.get("delete")))
            return
        try:
            bot = telegram_client().get_me()
            webhook = telegram_client().get_webhook_info()
        except TelegramError as exc:
            # The client's messages never hold the token.
            raise CommandError(_("Telegram check failed: %(error)s") % {"error": exc}) from None
        self.stdout.write(
            _("bot: @%(username)s (%(name)s)") % {"username": bot.username, "name": bot.first_name}
        )
        url = str(webhook.get("url") or "")
        if settings.TELEGRAM_WEBHOOK_SECRET:
            where = (
                _("webhook at %(url)s") % {"url": url}
                if url
                else _("webhook (not registered with Telegram yet)")
            )
            self.stdout.write(
                _("updates: %(where)s (BIZAGENT_TELEGRAM_WEBHOOK_SECRET is set)") % {"where": where}
            )
        elif url:
            raise CommandError(
                _(
                    "updates: Telegram has a webhook set (%(url)s) but "
                    "BIZAGENT_TELEGRAM_WEBHOOK_SECRET is unset, so polling cannot read updates; "
                    "delete the webhook or set the secret"
                )
                % {"url": url}
            )
        else:
            self.stdout.write(_("updates: long polling (the decisions.telegram_poll schedule)"))

    def _webhook(self, *, url: str, delete: bool) -> None:
        path = reverse("decisions:telegram_webhook")
        if delete == bool(url):
            raise CommandError(
                _("give either --url https://<your host>%(path)s or --delete") % {"path": path}
            )
        try:
            if delete:
                telegram_client().delete_webhook()
                self.stdout.write(_("webhook deleted: updates come by long polling again"))
                return
            if not url.startswith("https://"):
                raise CommandError(
                    _("--url must be an https address (Telegram requires it): %(url)s")
                    % {"url": url}
                )
            secret = settings.TELEGRAM_WEBHOOK_SECRET
            if not secret:
                raise CommandError(
                    _(
                        "set BIZAGENT_TELEGRAM_WEBHOOK_SECRET first: the webhook view refuses "
                        "every update without it"
                    )
                )
            telegram_client().set_webhook(url=url, secret_token=secret)
        except TelegramError as exc:
            raise CommandError(_("Telegram webhook failed: %(error)s") % {"error": exc}) from None
        note = (
            ""
            if url.endswith(path)
            else _(" (the webhook view is at %(path)s: is this it?)") % {"path": path}
        )
        self.stdout.write(_("webhook set: %(url)s%(note)s") % {"url": url, "note": note})
