"""django-q2 entry points: thin, bounded, idempotent.

``loop_tick`` runs at most one iteration, in one of the ``BIZAGENT_LOOP_CONCURRENCY``
loop slots (``goals.services.slots``): a short database lease renewed by a heartbeat
while the tick lives, so however many clusters tick, at most that many iterations run
at once, and a slot whose owner died is free again within a minute. No transaction is
open and no lock is held while the model is called.

A rest or a backoff ends when it ends, not at the next every-minute tick: a short wait
is slept out in the tick, a long one leaves a one-off wake schedule due just before its
end (``goals.services.wake``).
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid

from goals.conf import conf
from goals.services import wake
from goals.services.executor import goals_execute_due
from goals.services.iteration import IterationReport
from goals.services.plans import plan_decisions_settle
from goals.services.reports import goals_report_due
from goals.services.slots import iteration_run_in_slot, loop_slots_free

logger = logging.getLogger(__name__)

TICK_FUNC = "goals.tasks.loop_tick"


def worker_name() -> str:
    """Unique per call: a lease held by a dead process is never mistaken for ours."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


#: How long a tick queued by a tick keeps its slot, running one iteration after another
#: (``iteration_run_in_slot``), before it frees the slot and queues its successor. A
#: tick per iteration cost five write transactions of the ORM broker and the slot each
#: time, the larger part of all writes at K = 8; a minute keeps a tick bounded (plus one
#: iteration, well inside ``Q_CLUSTER["timeout"]``) and a cluster's shutdown prompt.
TICK_KEEP_SECONDS = 60.0


def _tick_enqueue(name: str) -> None:
    from django_q.tasks import async_task

    async_task(TICK_FUNC, task_name=name, keep_seconds=TICK_KEEP_SECONDS)


#: Waits a tick serves itself (sleep or wake schedule); any other status ends the tick
#: (paused and stopped wait for a person, busy for the ticks that hold the slots).
WAITS = ("resting", "backing_off")


def _fan_out(report: IterationReport) -> None:
    """After an iteration that ran, the slot still held: one more tick for another free
    slot. Only an iteration that ran queues one, and a tick finding every slot held
    queues nothing, so the ticks in flight stay bounded by the slots and the iterations."""
    settings = conf()
    if settings.tick_chain and settings.loop_concurrency > 1 and loop_slots_free() > 0:
        _tick_enqueue("goals.loop_tick.fan_out")


def _tick_run(*, worker: str, keep_seconds: float = 0.0) -> IterationReport:
    """Run in a slot, sleeping out waits of at most ``WAIT_IN_WORKER_SECONDS`` in all;
    a longer wait leaves a wake schedule due that much before its end."""
    deadline = time.monotonic() + wake.WAIT_IN_WORKER_SECONDS
    while True:
        budget = max(0.0, deadline - time.monotonic())
        report = iteration_run_in_slot(
            worker=worker,
            scheduled=True,
            rest_wait_max=budget,
            keep_seconds=keep_seconds,
            on_ran=_fan_out,
        )
        if report.status not in WAITS:
            return report
        plan = wake.wake_plan(wait_seconds=report.wait_seconds, sleep_max=budget)
        if plan.schedule_in_seconds is not None:
            # Due early by the most this tick could sleep, so the tick it starts has at
            # most that left, whichever guard cycle of django-q2 picks it up.
            early = wake.WAIT_IN_WORKER_SECONDS
            wake.loop_wake_schedule(
                at=wake.wake_at(wait_seconds=max(0.0, report.wait_seconds - early))
            )
            return report
        if plan.sleep_seconds <= 0:
            return report
        wake.sleep(plan.sleep_seconds)


def loop_tick(*, keep_seconds: float = 0.0) -> str:
    """One bounded iteration of the scheduled loop (more in the same slot for up to
    ``keep_seconds``, as the ticks queued by ticks ask); returns what happened.

    Obeys stop, pause, backoff, the duty cycle and the token budget (checked by
    ``iteration_run`` and the slot's admission). After a tick that did work, the next
    tick is queued at once so the loop runs continuously; with more than one slot, each
    iteration that ran and finds another slot free queues one more tick to fill it. A rest or
    backoff is waited out to its end (``_tick_run``); the every-minute schedule is the
    heartbeat that restarts the loop after a resume or a restart of the cluster.
    """
    worker = worker_name()
    settings = conf()
    report = _tick_run(worker=worker, keep_seconds=keep_seconds)
    if report.ran and settings.tick_chain:
        # The next tick at once, so the loop runs continuously (the fan-out to other
        # free slots happened after each iteration, in ``_fan_out``).
        _tick_enqueue("goals.loop_tick.chain")
    if report.iteration is not None:
        logger.info(
            "loop tick: iteration %s %s/%s %s",
            report.iteration.number,
            report.iteration.role,
            report.iteration.mode,
            report.iteration.outcome,
        )
    return report.status


def plan_decisions_settle_task() -> str:
    """Goals whose plan decision was rejected or lapsed go back to planned (bounded)."""
    return f"{plan_decisions_settle()} goal(s) back to planned"


def goals_execute_task() -> str:
    """The executor tick (``goals.services.executor.goals_execute_due``): bounded and
    idempotent; the workflow runs it starts go to the engine's queue."""
    report = goals_execute_due()
    summary = report.summary()
    logger.info("goals execute: %s", summary)
    return summary


def goals_monitor() -> int:
    """The monitor tick (``goals.services.monitor.goals_monitor_due``); returns the goals
    looked at. Idempotent per day: a goal monitored today is skipped."""
    from goals.services.monitor import goals_monitor_due

    return len(goals_monitor_due())


def goals_report_tick() -> str:
    """Make the goal reports due (daily, weekly, final) and mail those still owed;
    bounded per tick and idempotent (``goals.services.reports.goals_report_due``)."""
    tick = goals_report_due()
    logger.info("goals report tick: %s", tick.summary())
    return tick.summary()
