"""django-q2 entry points: thin, bounded, idempotent.

``loop_tick`` runs at most one iteration. A lock in the shared (database) cache keeps
ticks from overlapping: ``cache.add`` is an atomic insert-if-absent, and its timeout
frees the lock if a worker dies holding it. The lock is not a database lock; no
transaction is open while the model is called.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid

from django.core.cache import cache

from goals.conf import conf
from goals.services import iteration_run

logger = logging.getLogger(__name__)

TICK_LOCK_KEY = "goals:loop_tick:lock"


def worker_name() -> str:
    """Unique per call: a lease held by a dead process is never mistaken for ours."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def loop_tick() -> str:
    """One bounded iteration of the scheduled loop; returns what happened.

    Obeys stop, pause, backoff, the duty cycle and the token budget (all checked by
    ``iteration_run``). After a tick that did work, the next tick is queued at once so
    the loop runs continuously; the every-minute schedule is the heartbeat that restarts
    it after a rest, a backoff or a restart of the cluster.
    """
    worker = worker_name()
    settings = conf()
    if not cache.add(TICK_LOCK_KEY, worker, timeout=settings.tick_lock_seconds):
        return "busy"
    try:
        report = iteration_run(worker=worker, scheduled=True)
    finally:
        # Only our own lock: after a timeout another tick may hold a fresh one.
        if cache.get(TICK_LOCK_KEY) == worker:
            cache.delete(TICK_LOCK_KEY)
    if report.ran and settings.tick_chain:
        from django_q.tasks import async_task

        async_task("goals.tasks.loop_tick", task_name="goals.loop_tick.chain")
    if report.iteration is not None:
        logger.info(
            "loop tick: iteration %s %s/%s %s",
            report.iteration.number,
            report.iteration.role,
            report.iteration.mode,
            report.iteration.outcome,
        )
    return report.status
