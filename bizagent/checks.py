"""System checks for the shared infrastructure's settings.

The environment is read once, by ``bizagent/settings.py``, through the strict helpers
(a bad variable stops the import with one line). What a check adds is the rules between
values, and the same rules for values a settings module sets directly.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks


@checks.register("settings")
def q_cluster_settings_check(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """``bizagent.E001``: django-q2 redelivers a task still running when ``retry`` is not
    greater than ``timeout`` (every task would run twice); ``max_attempts`` must be finite."""
    cluster = getattr(settings, "Q_CLUSTER", {})
    errors: list[checks.CheckMessage] = []
    timeout, retry = cluster.get("timeout"), cluster.get("retry")
    if timeout is not None and (retry is None or retry <= timeout):
        errors.append(
            checks.Error(
                f"Q_CLUSTER retry ({retry}) must be greater than timeout ({timeout}) "
                "(set by BIZAGENT_Q_TIMEOUT)",
                id="bizagent.E001",
            )
        )
    attempts = cluster.get("max_attempts")
    if not isinstance(attempts, int) or attempts < 1:
        errors.append(
            checks.Error(
                f"Q_CLUSTER max_attempts must be a whole number of at least 1, got {attempts!r}",
                id="bizagent.E002",
            )
        )
    return errors
