"""The django-q2 tick: one bounded iteration in a loop slot, obeying the loop state.

Slots replace a cluster-wide cache lock that outlived a crashed owner by the lease plus
a minute (about 16 minutes of a stalled loop after a whole-cluster crash): a slot held by
a dead owner lapses within its short lease, and a live owner keeps it by heartbeat.
"""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
import time_machine
from django.utils import timezone
from django_q.models import OrmQ, Schedule

from decisions.models import AuditEvent
from goals.models import Iteration, LoopSlot, Task
from goals.services import (
    LeaseHeartbeat,
    loop_pause,
    loop_resume,
    loop_slot_claim,
    loop_start,
    loop_stop,
    task_claim_next,
)
from goals.services.loop import LOOP_SCHEDULE_NAME
from goals.tasks import loop_tick
from tests.concurrency import run_together
from tests.goals.factories import TaskFactory, ThemeFactory
from tests.goals.studio import StudioClient

pytestmark = pytest.mark.django_db


def test_a_stopped_loop_ticks_idle(theme, studio):
    assert loop_tick() == "stopped"
    assert not Iteration.objects.exists()


def test_a_running_loop_runs_one_iteration_per_tick(theme, studio):
    loop_start()
    assert loop_tick() == "ran"
    assert Iteration.objects.count() == 1
    assert loop_tick() == "ran"
    assert Iteration.objects.count() == 2


def test_the_tick_obeys_pause_resume_and_stop(theme, studio, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        loop_start()
    assert Schedule.objects.filter(name=LOOP_SCHEDULE_NAME, func="goals.tasks.loop_tick").exists()
    assert loop_tick() == "ran"
    loop_pause(reason="review")
    assert loop_tick() == "paused"
    loop_resume()
    assert loop_tick() == "ran"
    with django_capture_on_commit_callbacks(execute=True):
        loop_stop()
    assert loop_tick() == "stopped"
    assert not Schedule.objects.filter(name=LOOP_SCHEDULE_NAME).exists()
    assert Iteration.objects.count() == 2


def test_a_tick_finding_every_slot_held_by_a_live_owner_is_busy(theme, studio):
    loop_start()
    assert loop_slot_claim(worker="another-worker") == 1
    assert loop_tick() == "busy"
    assert not Iteration.objects.exists()
    assert LoopSlot.objects.get(number=1).owner == "another-worker"


def test_the_tick_frees_its_slot(theme, studio):
    loop_start()
    assert loop_tick() == "ran"
    assert LoopSlot.objects.get(number=1).owner == ""
    assert loop_tick() == "ran"


def test_a_crashed_cluster_resumes_within_a_minute(theme, studio, settings):
    """A tick killed mid-iteration leaves its slot and its task leased to a dead owner
    with no heartbeat: a minute later the next tick takes both over and does the work,
    without counting the crash as an attempt of the task."""
    settings.GOALS_LEASE_SECONDS = 60
    settings.GOALS_SLOT_LEASE_SECONDS = 60
    loop_start()
    task = TaskFactory(theme=theme)
    assert loop_slot_claim(worker="dead-host:1:aaaa") == 1
    assert task_claim_next(theme=theme, worker="dead-host:1:aaaa").pk == task.pk
    assert loop_tick() == "busy"  # the owner might still be alive
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=61), tick=False):
        assert loop_tick() == "ran"
    task.refresh_from_db()
    assert task.status == Task.Status.DONE
    assert (task.attempts, task.lease_losses) == (1, 1)
    assert Iteration.objects.get().task_id == task.pk
    event = AuditEvent.objects.get(action="goals.loop_slot_reclaimed")
    assert event.data["dead_owner"] == "dead-host:1:aaaa"
    assert LoopSlot.objects.get(number=1).owner == ""


def test_a_tick_that_worked_queues_the_next_one(theme, studio, settings):
    settings.GOALS_TICK_CHAIN = True
    loop_start()
    assert loop_tick() == "ran"
    assert OrmQ.objects.count() == 1
    loop_pause(reason="x")
    assert loop_tick() == "paused"
    assert OrmQ.objects.count() == 1


def test_with_free_slots_a_tick_fans_out_to_fill_them(theme, studio, settings):
    settings.GOALS_TICK_CHAIN = True
    settings.LOOP_CONCURRENCY = 3
    loop_start()
    assert loop_tick() == "ran"
    assert OrmQ.objects.count() == 2  # the chained tick and one for another free slot
    loop_slot_claim(worker="busy-1")
    loop_slot_claim(worker="busy-2")
    assert loop_tick() == "ran"
    assert OrmQ.objects.count() == 3  # only the chained tick: one slot left, its own


def test_the_duty_cycle_rests_between_iterations(theme, studio, monkeypatch):
    """The tick sleeps the slot's rest out (to its end, not the next minute tick)."""
    naps = []
    monkeypatch.setattr("goals.services.wake.sleep", naps.append)
    config = dict(theme.config)
    # 0.5: the rest equals the time worked, so it stays a wait the tick sleeps out
    # (under WAIT_IN_WORKER_SECONDS) however slow a loaded machine makes the iteration;
    # at 0.01 a 0.4-second iteration asked a 40-second rest, which is scheduled instead.
    config["iteration_policy"] = {**config["iteration_policy"], "duty_cycle": 0.5}
    theme.config = config
    theme.save()
    loop_start()
    assert loop_tick() == "ran"
    rest = LoopSlot.objects.get(number=1).rest_until - Iteration.objects.get().finished_at
    assert rest > dt.timedelta(0)
    assert loop_tick() == "ran"
    assert len(naps) == 1 and 0 < naps[0] <= rest.total_seconds()


def test_a_heartbeat_renews_the_slot_and_the_task_lease(theme, settings):
    settings.GOALS_LEASE_SECONDS = 60
    settings.GOALS_SLOT_LEASE_SECONDS = 60
    TaskFactory(theme=theme)
    slot = loop_slot_claim(worker="w")
    task = task_claim_next(theme=theme, worker="w")
    later = timezone.now() + dt.timedelta(seconds=50)
    with time_machine.travel(later, tick=False):
        LeaseHeartbeat(worker="w", slot=slot, interval=3600).beat()
    task.refresh_from_db()
    assert task.lease_expires_at == later + dt.timedelta(seconds=60)
    assert LoopSlot.objects.get(number=slot).expires_at == later + dt.timedelta(seconds=60)


def test_a_heartbeat_renews_nothing_it_no_longer_holds(theme):
    TaskFactory(theme=theme)
    task = task_claim_next(theme=theme, worker="w")
    Task.objects.filter(pk=task.pk).update(lease_owner="other")
    before = Task.objects.get(pk=task.pk).lease_expires_at
    LoopSlot.objects.create(number=1, owner="other", expires_at=before)
    LeaseHeartbeat(worker="w", slot=1, interval=3600).beat()
    assert Task.objects.get(pk=task.pk).lease_expires_at == before
    assert LoopSlot.objects.get(number=1).expires_at == before


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_thread_beats_while_its_owner_lives(settings):
    """The thread keeps a lease alive through a call far longer than the lease."""
    settings.GOALS_SLOT_LEASE_SECONDS = 10
    slot = loop_slot_claim(worker="w")
    first = LoopSlot.objects.get(number=slot).expires_at
    with LeaseHeartbeat(worker="w", slot=slot, interval=0.05) as heartbeat:
        deadline = time.monotonic() + 20
        while heartbeat.beats < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert heartbeat.beats >= 2
    assert LoopSlot.objects.get(number=slot).expires_at > first
    beats = heartbeat.beats
    time.sleep(0.2)
    assert heartbeat.beats == beats  # it stops with its owner


def _ticks_in_threads(monkeypatch, concurrency: int, ticks: int, rounds: int) -> dict:
    """Run ``ticks`` loop ticks at once, ``rounds`` times; record the most in flight."""
    from goals.services import slots

    seen = {"now": 0, "max": 0, "statuses": []}
    lock = threading.Lock()
    real = slots.iteration_run

    def counting(**kwargs):
        with lock:
            seen["now"] += 1
            seen["max"] = max(seen["max"], seen["now"])
        try:
            time.sleep(0.05)  # widen the window in which ticks overlap
            return real(**kwargs)
        finally:
            with lock:
                seen["now"] -= 1

    monkeypatch.setattr(slots, "iteration_run", counting)
    for _ in range(rounds):
        results, errors = run_together(lambda i: loop_tick(), ticks)
        assert not errors, errors
        seen["statuses"].extend(results)
    return seen


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("concurrency", [1, 2])
def test_concurrent_ticks_run_at_most_k_iterations_and_each_task_once(
    monkeypatch, settings, concurrency
):
    settings.LOOP_CONCURRENCY = concurrency
    client = StudioClient()
    monkeypatch.setattr("goals.services.iteration.llm_client", lambda: client)
    theme = ThemeFactory()
    tasks = [TaskFactory(theme=theme, kind="generate") for _ in range(3)]
    loop_start()
    seen = _ticks_in_threads(monkeypatch, concurrency, ticks=4, rounds=3)
    assert 1 <= seen["max"] <= concurrency
    assert "busy" in seen["statuses"]
    assert set(seen["statuses"]) <= {"ran", "busy"}
    assert seen["statuses"].count("ran") == Iteration.objects.count()
    for task in tasks:
        task.refresh_from_db()
        done = Iteration.objects.filter(task=task, outcome__in=("ok", "repaired")).count()
        assert done <= 1, f"task {task.pk} was done {done} times"
    for task in Task.objects.filter(status=Task.Status.DONE):
        assert Iteration.objects.filter(task=task, outcome__in=("ok", "repaired")).count() == 1
    assert not LoopSlot.objects.exclude(owner="").exists()
