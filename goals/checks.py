"""System checks for goals: the loop's configuration is read and checked at start-up.

Django runs checks before ``runserver``, ``migrate``, ``check`` and every management
command (``runloop``, ``qcluster``), so a bad ``BIZAGENT_GOALS_*`` value stops the
process that would run the loop, with one line naming the variable, instead of failing
at the first loop tick inside a worker.
"""

from __future__ import annotations

from typing import Any

from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from goals.conf import conf


@checks.register("settings")
def goals_settings_check(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """``goals.E001`` when a loop setting is wrong; the message names the variable."""
    try:
        conf()
    except ImproperlyConfigured as exc:
        return [checks.Error(" ".join(str(exc).split()), id="goals.E001")]
    return []
