"""The scheduled loop under a duty cycle, a backoff and a budget with K slots.

A rest or a backoff ends when it ends, not at the next every-minute tick (with the
shipped duty cycle 0.75 that made the scheduled loop run at 0.13 of its continuous
speed); each slot rests for its own work, so K slots each keep the duty cycle and one
resting slot does not stop the others; and the budget check counts the tokens of the
iterations in flight in other slots.

The wiring runs under a time machine: a model call takes ``WORK`` seconds of the
machine's time, and a tick's sleep moves the machine instead of waiting.
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone
from django_q.models import Schedule

from decisions.models import Decision
from goals.models import Iteration, LoopSlot
from goals.services import loop_pause, loop_start, loop_stop
from goals.services.loop import loop_backoff_enter
from goals.services.slots import loop_slot_admit, loop_slot_claim
from goals.services.wake import (
    WAIT_IN_WORKER_SECONDS,
    WAKE_SCHEDULE_NAME,
    WakePlan,
    rest_seconds,
    wake_plan,
)
from goals.tasks import loop_tick
from tests.concurrency import run_together
from tests.goals.factories import ThemeFactory
from tests.goals.studio import StudioClient

pytestmark = pytest.mark.django_db

WORK = 3.0  # seconds of the time machine one iteration takes


@pytest.mark.parametrize(
    "wait, plan",
    [
        (-1.0, WakePlan()),
        (0.0, WakePlan()),
        (0.3, WakePlan(sleep_seconds=0.3)),
        (WAIT_IN_WORKER_SECONDS, WakePlan(sleep_seconds=WAIT_IN_WORKER_SECONDS)),
        (WAIT_IN_WORKER_SECONDS + 1, WakePlan(schedule_in_seconds=1.0)),
        (600.0, WakePlan(schedule_in_seconds=600.0 - WAIT_IN_WORKER_SECONDS)),
    ],
)
def test_a_short_wait_is_slept_a_long_one_scheduled_early(wait, plan):
    assert wake_plan(wait_seconds=wait) == plan


def test_the_wake_is_scheduled_early_by_what_a_tick_may_sleep():
    """django-q2 looks at schedules every 30 s: a wake due WAIT_IN_WORKER_SECONDS early
    is picked up before the end, with at most that left to sleep."""
    assert WAIT_IN_WORKER_SECONDS > 30


@pytest.mark.parametrize(
    "worked, duty, rest",
    [
        (3.0, 1.0, 0.0),
        (3.0, 0.75, 1.0),
        (2.0, 0.5, 2.0),
        (1.0, 0.25, 3.0),
        (0.0, 0.5, 0.0),
        (3.0, 0.01, 297.0),
    ],
)
def test_the_rest_makes_work_the_duty_cycle_of_the_wall_time(worked, duty, rest):
    assert rest_seconds(worked_seconds=worked, duty_cycle=duty) == pytest.approx(rest)
    if rest:
        assert worked / (worked + rest) == pytest.approx(duty)


# --- wiring under a time machine ------------------------------------------------------


@pytest.fixture
def machine(monkeypatch):
    """A frozen clock: each model call moves it by WORK seconds, each sleep by its length."""
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        naps: list[float] = []

        def nap(seconds: float) -> None:
            naps.append(round(seconds, 3))
            traveller.shift(dt.timedelta(seconds=seconds))

        class SlowStudio(StudioClient):
            def complete(self, *args, **kwargs):
                traveller.shift(dt.timedelta(seconds=WORK))
                return super().complete(*args, **kwargs)

        client = SlowStudio()
        monkeypatch.setattr("goals.services.iteration.llm_client", lambda: client)
        monkeypatch.setattr("goals.services.wake.sleep", nap)
        traveller.naps = naps
        yield traveller


def _duty(theme, duty: float, **policy) -> None:
    config = dict(theme.config)
    config["iteration_policy"] = {**config["iteration_policy"], "duty_cycle": duty, **policy}
    theme.config = config
    theme.save()


def _wake() -> Schedule | None:
    return Schedule.objects.filter(name=WAKE_SCHEDULE_NAME).first()


def test_a_short_rest_ends_when_it_ends(theme, machine):
    """Duty cycle 0.75, 3 s of work: the next iteration starts 1 s after the last one
    ended, not at the next minute tick."""
    _duty(theme, 0.75)
    loop_start()
    assert loop_tick() == "ran"
    first = Iteration.objects.get()
    rest_until = LoopSlot.objects.get(number=1).rest_until
    assert rest_until == first.finished_at + dt.timedelta(seconds=1)
    assert loop_tick() == "ran"
    assert machine.naps == [1.0]
    second = Iteration.objects.order_by("-id").first()
    assert second.started_at == rest_until
    assert _wake() is None


def test_a_long_rest_leaves_a_wake_due_before_its_end(theme, machine):
    """Duty cycle 0.01, 3 s of work: a 297 s rest. The tick leaves a one-off schedule
    due WAIT_IN_WORKER_SECONDS early; picked up as late as django-q2's 30 s guard cycle
    allows, the tick it starts sleeps the rest out to its end and runs."""
    _duty(theme, 0.01)
    loop_start()
    assert loop_tick() == "ran"
    rest_until = LoopSlot.objects.get(number=1).rest_until
    assert rest_until == Iteration.objects.get().finished_at + dt.timedelta(seconds=297)
    assert loop_tick() == "resting"
    wake = _wake()
    assert wake.schedule_type == Schedule.ONCE and wake.func == "goals.tasks.loop_tick"
    assert wake.next_run == rest_until - dt.timedelta(seconds=WAIT_IN_WORKER_SECONDS)
    assert Iteration.objects.count() == 1 and machine.naps == []
    # Many ticks asking for the same wake share one row.
    assert loop_tick() == "resting"
    assert Schedule.objects.filter(name=WAKE_SCHEDULE_NAME).count() == 1
    machine.move_to(wake.next_run + dt.timedelta(seconds=29))
    assert loop_tick() == "ran"
    assert machine.naps == [WAIT_IN_WORKER_SECONDS - 29]
    assert Iteration.objects.order_by("-id").first().started_at == rest_until


def test_stopping_the_loop_drops_a_pending_wake(theme, machine, django_capture_on_commit_callbacks):
    _duty(theme, 0.01)
    loop_start()
    assert loop_tick() == "ran"
    assert loop_tick() == "resting"
    assert _wake() is not None
    with django_capture_on_commit_callbacks(execute=True):
        loop_stop()
    assert _wake() is None


def test_a_backoff_ends_when_it_ends(theme, machine):
    loop_start()
    state = loop_backoff_enter(error_class="unreachable", detail="connection refused")
    wait = (state.backoff_until - timezone.now()).total_seconds()
    assert 0 < wait <= WAIT_IN_WORKER_SECONDS
    assert loop_tick() == "ran"
    assert machine.naps == [wait]
    assert Iteration.objects.get().started_at == state.backoff_until


def test_a_long_backoff_leaves_a_wake_due_before_its_end(theme, machine, settings):
    settings.GOALS_BACKOFF_BASE_SECONDS = 120.0
    loop_start()
    state = loop_backoff_enter(error_class="unreachable", detail="connection refused")
    assert loop_tick() == "backing_off"
    early = dt.timedelta(seconds=WAIT_IN_WORKER_SECONDS)
    assert _wake().next_run == state.backoff_until - early
    assert not Iteration.objects.exists()


def test_a_pause_committed_during_a_rest_starts_nothing(theme, machine, monkeypatch):
    _duty(theme, 0.75)
    loop_start()
    assert loop_tick() == "ran"
    sleep = machine.naps.append

    def pause_while_resting(seconds: float) -> None:
        sleep(seconds)
        loop_pause(reason="a person looks at it")
        machine.shift(dt.timedelta(seconds=seconds))

    monkeypatch.setattr("goals.services.wake.sleep", pause_while_resting)
    assert loop_tick() == "paused"
    assert machine.naps == [1.0]
    assert Iteration.objects.count() == 1


def test_each_slot_rests_for_its_own_work(theme, machine, settings):
    """With two slots, one resting slot does not stop the other."""
    settings.LOOP_CONCURRENCY = 2
    _duty(theme, 0.5)
    loop_start()
    assert loop_tick() == "ran"
    assert loop_tick() == "ran"
    assert machine.naps == []  # the second ran at once, in the other slot
    slots = list(LoopSlot.objects.order_by("number"))
    its = list(Iteration.objects.order_by("id"))
    for slot, it in zip(slots, its, strict=True):
        assert slot.rest_until == it.finished_at + dt.timedelta(seconds=WORK)
    assert loop_tick() == "ran"  # slot 1 rested from its finish: 3 s - 3 s of slot 2
    assert machine.naps == [0.0] or machine.naps == []
    third = Iteration.objects.order_by("-id").first()
    assert third.started_at >= slots[0].rest_until


def test_the_budget_counts_what_other_slots_have_in_flight(theme, machine, settings):
    """Under the budget by less than another slot has in flight: no iteration starts and
    nobody is asked for tokens yet; once that slot is done, the count is what was spent."""
    settings.LOOP_CONCURRENCY = 2
    loop_start()
    assert loop_tick() == "ran"
    used = Iteration.objects.get().total_tokens
    _duty(theme, 1.0, daily_token_budget=used + 10)
    busy = loop_slot_claim(worker="other-host:1:aaaa")
    LoopSlot.objects.filter(number=busy).update(reserved_tokens=500)
    assert loop_tick() == "budget"
    assert Iteration.objects.count() == 1
    assert not Decision.objects.exists()
    LoopSlot.objects.filter(number=busy).update(owner="", expires_at=None, reserved_tokens=0)
    assert loop_tick() == "ran"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_admissions_at_once_each_count_the_others(settings, monkeypatch):
    """Four slots admitted at once with room for three estimates: exactly three start."""
    settings.LOOP_CONCURRENCY = 4
    theme = ThemeFactory()
    _duty(theme, 1.0, daily_token_budget=250)
    monkeypatch.setattr("goals.services.slots.tokens_per_iteration_estimate", lambda *, theme: 100)
    workers = [f"w{i}" for i in range(4)]
    slots = [loop_slot_claim(worker=w) for w in workers]

    def admit(i: int):
        return loop_slot_admit(worker=workers[i], slot=slots[i], theme=theme)

    results, errors = run_together(admit, 4)
    assert not errors, errors
    assert sum(r is None for r in results) == 3
    assert sorted(LoopSlot.objects.values_list("reserved_tokens", flat=True)) == [0, 100, 100, 100]
