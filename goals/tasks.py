"""django-q2 entry points: thin, bounded, idempotent.

``loop_tick`` runs at most one iteration, in one of the ``BIZAGENT_LOOP_CONCURRENCY``
loop slots (``goals.services.slots``): a short database lease renewed by a heartbeat
while the tick lives, so however many clusters tick, at most that many iterations run
at once, and a slot whose owner died is free again within a minute. No transaction is
open and no lock is held while the model is called.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid

from goals.conf import conf
from goals.services.slots import iteration_run_in_slot, loop_slots_free

logger = logging.getLogger(__name__)

TICK_FUNC = "goals.tasks.loop_tick"


def worker_name() -> str:
    """Unique per call: a lease held by a dead process is never mistaken for ours."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _tick_enqueue(name: str) -> None:
    from django_q.tasks import async_task

    async_task(TICK_FUNC, task_name=name)


def loop_tick() -> str:
    """One bounded iteration of the scheduled loop; returns what happened.

    Obeys stop, pause, backoff, the duty cycle and the token budget (all checked by
    ``iteration_run``). After a tick that did work, the next tick is queued at once so
    the loop runs continuously; with more than one slot, a tick that did work and finds
    another slot free queues one more tick to fill it. The every-minute schedule is the
    heartbeat that restarts the loop after a rest, a backoff or a restart of the cluster.
    """
    worker = worker_name()
    settings = conf()
    report = iteration_run_in_slot(worker=worker, scheduled=True)
    if report.ran and settings.tick_chain:
        _tick_enqueue("goals.loop_tick.chain")
        if settings.loop_concurrency > 1 and loop_slots_free() > 1:
            # One more tick for another free slot (the chained one takes the first).
            # Only a tick that ran queues more, and a tick that finds every slot held
            # queues nothing, so the ticks in flight stay bounded by the slots.
            _tick_enqueue("goals.loop_tick.fan_out")
    if report.iteration is not None:
        logger.info(
            "loop tick: iteration %s %s/%s %s",
            report.iteration.number,
            report.iteration.role,
            report.iteration.mode,
            report.iteration.outcome,
        )
    return report.status
