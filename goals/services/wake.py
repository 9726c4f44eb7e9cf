"""When the scheduled loop wakes: a rest or a backoff ends when it ends, not at a tick.

django-q2 runs due schedules from its guard loop only every 30 seconds
(``django_q.cluster.Sentinel.guard``: ``counter >= 30``, hard-coded), so a one-off
schedule alone would end a 0.3-second rest up to 30 seconds late, and the every-minute
schedule up to a minute late (with the shipped duty cycle 0.75 that made the loop run at
0.13 of its continuous speed). So a wait is served in two parts:

- a wait of at most ``WAIT_IN_WORKER_SECONDS`` is slept out by the tick itself (holding
  no transaction, and for a rest holding the slot it will run in, so no other tick
  waits for the same slot and the sleeping ticks stay bounded by the slots);
- a longer one leaves a one-off schedule (``ONCE``, one row, deduplicated by name) due
  that much before the wait ends; whichever guard cycle picks it up, the tick it starts
  has at most ``WAIT_IN_WORKER_SECONDS`` left, which it sleeps out.

Either way the next iteration starts within the worker's wake-up latency of the end.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

#: How often django-q2's guard loop looks at schedules (hard-coded in django-q2 1.x).
SCHEDULER_PERIOD_SECONDS = 30.0
#: Longest wait a tick sleeps out itself: one scheduler period plus a margin, so a wake
#: schedule due ``WAIT_IN_WORKER_SECONDS`` early is always picked up before the end.
WAIT_IN_WORKER_SECONDS = SCHEDULER_PERIOD_SECONDS + 5.0
#: The one-off schedule that wakes the loop after a long wait.
WAKE_SCHEDULE_NAME = "goals.loop_tick.wake"
WAKE_FUNC = "goals.tasks.loop_tick"


@dataclass(frozen=True)
class WakePlan:
    """How to serve a wait: sleep ``sleep_seconds`` in the tick, or leave a one-off
    schedule due in ``schedule_in_seconds`` (then the tick ends)."""

    sleep_seconds: float = 0.0
    schedule_in_seconds: float | None = None


def sleep(seconds: float) -> None:
    """Wait in the worker (a seam for tests, which move a time machine instead)."""
    time.sleep(seconds)


def wake_plan(*, wait_seconds: float, sleep_max: float = WAIT_IN_WORKER_SECONDS) -> WakePlan:
    """Sleep a short wait out; schedule a wake ``sleep_max`` before the end of a long one.

    A wait of zero or less needs nothing (the gate has already opened).
    """
    if wait_seconds <= 0:
        return WakePlan()
    if wait_seconds <= sleep_max:
        return WakePlan(sleep_seconds=wait_seconds)
    return WakePlan(schedule_in_seconds=wait_seconds - sleep_max)


def rest_seconds(*, worked_seconds: float, duty_cycle: float) -> float:
    """The rest after ``worked_seconds`` of work so that work is ``duty_cycle`` of the
    wall time (work / (work + rest) = duty): none at a duty cycle of 1."""
    if not 0 < duty_cycle < 1 or worked_seconds <= 0:
        return 0.0
    return worked_seconds * (1 - duty_cycle) / duty_cycle


def loop_wake_schedule(*, at: dt.datetime) -> Any:
    """Make sure a one-off tick is due no later than ``at`` (one row, the earliest wins).

    Many ticks may ask at once (each slot's rest, a backoff): they share one row, which
    only ever moves earlier, so the loop wakes at the first end and the tick it starts
    asks again for the next one.
    """
    from django_q.models import Schedule

    with transaction.atomic():
        schedule = Schedule.objects.select_for_update().filter(name=WAKE_SCHEDULE_NAME).first()
        if schedule is None:
            return Schedule.objects.create(
                name=WAKE_SCHEDULE_NAME,
                func=WAKE_FUNC,
                schedule_type=Schedule.ONCE,
                repeats=-1,
                next_run=at,
            )
        if schedule.next_run is None or schedule.next_run > at or schedule.repeats == 0:
            schedule.next_run = at
            schedule.repeats = -1
            schedule.save(update_fields=["next_run", "repeats"])
        return schedule


def loop_wake_remove() -> int:
    """Drop a pending wake (the loop was stopped)."""
    from django_q.models import Schedule

    deleted, _ = Schedule.objects.filter(name=WAKE_SCHEDULE_NAME).delete()
    return deleted


def wake_at(*, wait_seconds: float, now: dt.datetime | None = None) -> dt.datetime:
    return (now or timezone.now()) + dt.timedelta(seconds=wait_seconds)
