"""Queueing step runs on django-q2, after commit, below every service that needs it.

Services name the task by its dotted path and never import ``workflows.tasks`` (the
tasks call the services; the other way round would close an import circle).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django_q.tasks import async_task

logger = logging.getLogger(__name__)

STEP_TASK = "workflows.tasks.step_run_execute_task"


def step_runs_enqueue(step_run_ids: Iterable[int]) -> None:
    """Queue each step run once the current transaction commits.

    A broker outage must not undo a recorded step: the failure is logged and the
    catch-up schedule (``workflows_catch_up``) finds the pending step run later, since
    what is to run is derived from the database, never from the queue.
    """
    ids = list(step_run_ids)
    if not ids:
        return

    def send() -> None:
        for step_run_id in ids:
            try:
                async_task(
                    STEP_TASK,
                    step_run_id,
                    q_options={"group": "workflows", "timeout": settings.Q_TASK_TIMEOUT},
                )
            except Exception:
                logger.exception("workflows: could not queue step run %s", step_run_id)

    transaction.on_commit(send)
