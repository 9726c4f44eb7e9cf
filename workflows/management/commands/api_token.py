"""``manage.py api_token create --user NAME [--name N]``: a REST API token, shown once.

The token is printed on stdout and nowhere else (not logged, not stored): copy it now.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError, CommandParser
from django.utils.translation import gettext as _

from workflows.management.commands._language import StaffCommand
from workflows.services.tokens import api_token_create


class Command(StaffCommand):
    help = "Create a REST API token for a user; it is printed once and stored only as a hash."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="make a token and print it once")
        create.add_argument("--user", required=True, help="the username the token acts as")
        create.add_argument("--name", default="command line", help="what the token is for")

    def handle(self, *args: Any, **options: Any) -> None:
        username = options["user"]
        user_model = get_user_model()
        try:
            user = user_model.objects.get(**{user_model.USERNAME_FIELD: username})
        except user_model.DoesNotExist:
            raise CommandError(_("no user named %(name)r") % {"name": username}) from None
        try:
            token, raw = api_token_create(user=user, name=options["name"], actor=None)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stderr.write(
            _(
                "Token %(name)r for %(user)s (prefix %(prefix)s). "
                "It is shown once, now; only its hash is kept."
            )
            % {"name": token.name, "user": username, "prefix": token.prefix}
        )
        self.stdout.write(raw)
