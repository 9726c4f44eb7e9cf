"""Queueing follow-up work on django-q2, below every service that needs it.

Services name their task by its dotted path (``"decisions.tasks.decision_notify_task"``)
and never import ``decisions.tasks``: the tasks call the services, so the services
reaching back into the tasks module would close an import circle.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django_q.tasks import async_task

logger = logging.getLogger(__name__)


def task_enqueue(func: str, *args: Any) -> None:
    """Queue ``func(*args)`` on django-q2. Called from ``on_commit`` hooks only.

    A broker outage must not undo a committed decision: the failure is logged, and the
    governance tick catches up (expiry, reminders and approved actions are all derived
    from the database, not from the queue).
    """
    try:
        async_task(
            func, *args, q_options={"group": "decisions", "timeout": settings.Q_TASK_TIMEOUT}
        )
    except Exception:
        logger.exception("decisions: could not queue %s%r", func, args)
