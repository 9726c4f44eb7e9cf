"""Create the admin account on first run.

Takes ``BIZAGENT_ADMIN_USER`` / ``BIZAGENT_ADMIN_PASSWORD`` when set; otherwise creates
``admin`` with a generated password printed once. An existing account is left alone.

With ``--hand-over``, a generated password is the only thing written to stdout (the
messages go to stderr): ``make run`` captures it into serve's environment, and serve
prints it last, after the start-up output, so it is not lost among install lines.
"""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils.translation import gettext as _

from bizagent.command_language import staff_language
from bizagent.env import env_str


class Command(BaseCommand):
    help = "Create the admin account if it does not exist (prints a generated password once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--hand-over",
            action="store_true",
            help="Write only a generated password to stdout (messages go to stderr), "
            "for `make run` to hand over to serve.",
        )

    @staff_language
    def handle(self, *args: object, **options: object) -> None:
        hand_over = bool(options["hand_over"])

        def say(message: str) -> None:
            # On stderr in hand-over mode, unstyled: information, not an error.
            if hand_over:
                self.stderr.write(message, style_func=str)
            else:
                self.stdout.write(message)

        username = env_str("BIZAGENT_ADMIN_USER", "admin")
        password = env_str("BIZAGENT_ADMIN_PASSWORD")
        User = get_user_model()
        with transaction.atomic():
            if User.objects.filter(username=username).exists():
                say(_("Admin account %(user)s exists; left unchanged.") % {"user": repr(username)})
                return
            generated = password is None
            if password is None:
                password = secrets.token_urlsafe(16)
            User.objects.create_superuser(username=username, email="", password=password)
        if generated and hand_over:
            say(
                _("Created admin account %(user)s; its password is shown once the app is up.")
                % {"user": repr(username)}
            )
            self.stdout.write(password)
        elif generated:
            self.stdout.write(
                self.style.WARNING(
                    _("Created admin account %(user)s with password: %(password)s")
                    % {"user": repr(username), "password": password}
                    + "\n"
                    + _("This password is shown only once; change it in the admin.")
                )
            )
        else:
            say(
                _("Created admin account %(user)s from BIZAGENT_ADMIN_PASSWORD.")
                % {"user": repr(username)}
            )
