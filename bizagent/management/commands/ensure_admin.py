"""Create the admin account on first run.

Takes ``BIZAGENT_ADMIN_USER`` / ``BIZAGENT_ADMIN_PASSWORD`` when set; otherwise creates
``admin`` with a generated password printed once. An existing account is left alone.
"""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from bizagent.env import env_str


class Command(BaseCommand):
    help = "Create the admin account if it does not exist (prints a generated password once)."

    def handle(self, *args: object, **options: object) -> None:
        username = env_str("BIZAGENT_ADMIN_USER", "admin")
        password = env_str("BIZAGENT_ADMIN_PASSWORD")
        User = get_user_model()
        with transaction.atomic():
            if User.objects.filter(username=username).exists():
                self.stdout.write(f"Admin account {username!r} exists; left unchanged.")
                return
            generated = password is None
            if generated:
                password = secrets.token_urlsafe(16)
            User.objects.create_superuser(username=username, email="", password=password)
        if generated:
            self.stdout.write(
                self.style.WARNING(
                    f"Created admin account {username!r} with password: {password}\n"
                    "This password is shown only once; change it in the admin."
                )
            )
        else:
            self.stdout.write(f"Created admin account {username!r} from BIZAGENT_ADMIN_PASSWORD.")
