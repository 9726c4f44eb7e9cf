"""The language of what staff read from the governance commands.

Django's ``BaseCommand`` leaves translation as the caller set it (only the
``no_translations`` decorator deactivates it): from ``manage.py`` nothing is active and
text falls back to ``LANGUAGE_CODE``, but a command called from code inherits whatever
language the caller activated (a request's, a test's). These commands answer staff in
``BIZAGENT_LANGUAGE`` (= ``LANGUAGE_CODE``) whoever calls them.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import translation


class StaffLanguageCommand(BaseCommand):
    """A command whose output and errors are in ``settings.LANGUAGE_CODE``."""

    def execute(self, *args: Any, **options: Any) -> str | None:
        # CommandError messages are built inside handle(), so they are covered too.
        with translation.override(settings.LANGUAGE_CODE):
            return super().execute(*args, **options)
