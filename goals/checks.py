"""System checks for goals: the loop's configuration is read and checked at start-up.

Django runs checks before ``runserver``, ``migrate``, ``check`` and every management
command (``runloop``, ``qcluster``), so a bad ``BIZAGENT_GOALS_*`` value stops the
process that would run the loop, with one line naming the variable, instead of failing
at the first loop tick inside a worker.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from goals.conf import conf
from goals.vocabulary import CURRENCY_EXPONENTS


@checks.register("settings")
def goals_settings_check(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """``goals.E001`` when a loop setting is wrong; the message names the variable."""
    try:
        conf()
    except ImproperlyConfigured as exc:
        return [checks.Error(" ".join(str(exc).split()), id="goals.E001")]
    return []


def default_currency_problem() -> str:
    """Why ``BIZAGENT_DEFAULT_CURRENCY`` is unusable, or "" when it is a known currency.

    Shared by the system check and the ``goal`` command (``call_command`` skips checks).
    """
    value = getattr(settings, "DEFAULT_CURRENCY", None)
    if value in CURRENCY_EXPONENTS:
        return ""
    known = ", ".join(sorted(CURRENCY_EXPONENTS))
    return f"BIZAGENT_DEFAULT_CURRENCY must be one of {known}, got {str(value)[:40]!r}"


@checks.register("settings")
def goals_currency_check(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """``goals.E002`` when the default currency of bare amounts is not a known currency."""
    problem = default_currency_problem()
    return [checks.Error(problem, id="goals.E002")] if problem else []
