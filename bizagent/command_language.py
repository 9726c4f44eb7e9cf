"""Management commands speak ``BIZAGENT_LANGUAGE`` to the staff who run them.

Django 5.2's ``BaseCommand`` neither activates nor deactivates a language (only the
``no_translations`` decorator deactivates), so a command's ``gettext`` would follow
whatever happens to be active in the process: nothing in a shell, a leftover language in
a test or a caller that used ``call_command`` inside a request. ``staff_language`` pins it
once, around ``handle``, so every line and every ``CommandError`` a person reads comes in
the configured language. Machine-read output (``goal --json``) carries no marked strings,
so it is the same in every language.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.utils import translation

F = TypeVar("F", bound=Callable[..., Any])


def staff_language(handle: F) -> F:
    """Decorate a command's ``handle`` to run under ``settings.LANGUAGE_CODE``.

    The language is read at call time, so ``override_settings(LANGUAGE_CODE=...)`` in a
    test, or a changed ``BIZAGENT_LANGUAGE`` after a restart, is what the command speaks.
    """

    @functools.wraps(handle)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with translation.override(settings.LANGUAGE_CODE):
            return handle(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
