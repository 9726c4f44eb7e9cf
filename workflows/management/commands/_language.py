"""The workflows commands' base: staff read their output in ``BIZAGENT_LANGUAGE``.

Django's ``BaseCommand`` leaves translation as it finds it (only ``@no_translations``
commands deactivate it), so a command run from a shell speaks ``LANGUAGE_CODE`` while
one called with ``call_command`` from a request or a test would speak whatever that
caller had active. Overriding here makes the language the deployment's, every time.
Machine-read output (ids, tokens, ``--json``) carries no translated words.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import translation


class StaffCommand(BaseCommand):
    """A command whose words for people follow ``settings.LANGUAGE_CODE``."""

    def execute(self, *args: Any, **options: Any) -> str | None:
        with translation.override(settings.LANGUAGE_CODE):
            return super().execute(*args, **options)
