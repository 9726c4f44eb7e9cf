"""Loop state transitions: start, stop, pause, resume, backoff; each guarded and audited."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from django_q.models import Schedule

from decisions.models import AuditEvent
from goals.models import LoopState
from goals.selectors import loop_status
from goals.services import (
    LoopStartRefused,
    loop_backoff_clear,
    loop_backoff_enter,
    loop_pause,
    loop_resume,
    loop_start,
    loop_state_get,
    loop_stop,
)
from goals.services.loop import LOOP_SCHEDULE_NAME, backoff_delay

pytestmark = pytest.mark.django_db
State = LoopState.State


def _actions() -> list[str]:
    return list(
        AuditEvent.objects.filter(action__startswith="goals.loop")
        .values_list("action", flat=True)
        .order_by("id")
    )


def test_the_loop_starts_stopped():
    assert loop_state_get().state == State.STOPPED


def test_start_runs_the_loop_and_schedules_the_tick(
    theme, django_capture_on_commit_callbacks, alice
):
    with django_capture_on_commit_callbacks(execute=True):
        state = loop_start(actor=alice)
    assert state.state == State.RUNNING
    schedule = Schedule.objects.get(name=LOOP_SCHEDULE_NAME)
    assert schedule.func == "goals.tasks.loop_tick"
    assert schedule.schedule_type == Schedule.MINUTES
    assert schedule.repeats == -1
    event = AuditEvent.objects.get(action="goals.loop_started")
    assert event.actor == alice


def test_start_twice_keeps_one_schedule(theme, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        loop_start()
    with django_capture_on_commit_callbacks(execute=True):
        loop_start()
    assert Schedule.objects.filter(name=LOOP_SCHEDULE_NAME).count() == 1
    assert _actions() == ["goals.loop_started"]


def test_stop_saves_state_and_removes_the_schedule(theme, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        loop_start()
    LoopState.objects.update(iterations_total=7)
    with django_capture_on_commit_callbacks(execute=True):
        state = loop_stop(reason="maintenance")
    assert (state.state, state.reason, state.iterations_total) == (State.STOPPED, "maintenance", 7)
    assert not Schedule.objects.filter(name=LOOP_SCHEDULE_NAME).exists()
    assert _actions() == ["goals.loop_started", "goals.loop_stopped"]


def test_pause_and_resume(theme, bob):
    loop_start()
    assert loop_pause(reason="checking ideas", actor=bob).state == State.PAUSED
    assert loop_state_get().reason == "checking ideas"
    assert loop_resume(actor=bob).state == State.RUNNING
    assert _actions() == ["goals.loop_started", "goals.loop_paused", "goals.loop_resumed"]


def test_pause_leaves_a_stopped_loop_stopped():
    assert loop_pause(reason="theme switch").state == State.STOPPED
    assert loop_resume().state == State.STOPPED
    assert _actions() == []


def test_resume_of_a_running_loop_changes_nothing(theme):
    loop_start()
    loop_resume()
    assert _actions() == ["goals.loop_started"]


def test_backoff_grows_and_is_capped(settings):
    settings.GOALS_BACKOFF_BASE_SECONDS = 10
    settings.GOALS_BACKOFF_MAX_SECONDS = 60
    assert [backoff_delay(n) for n in (1, 2, 3, 4, 5)] == [10, 20, 40, 60, 60]


def test_backoff_then_recovery(theme):
    loop_start()
    now = timezone.now()
    state = loop_backoff_enter(error_class="unreachable", detail="connection refused", now=now)
    assert state.state == State.BACKING_OFF
    assert state.backoff_until == now + dt.timedelta(seconds=30)
    assert "connection refused" in state.reason
    state = loop_backoff_enter(error_class="unreachable", detail="connection refused", now=now)
    assert state.backoff_until == now + dt.timedelta(seconds=60)
    state = loop_backoff_clear()
    assert (state.state, state.backoff_failures, state.backoff_until) == (State.RUNNING, 0, None)
    assert _actions() == ["goals.loop_started", "goals.loop_backing_off", "goals.loop_recovered"]


def test_backoff_of_a_stopped_loop_keeps_it_stopped():
    state = loop_backoff_enter(error_class="timeout", detail="slow", now=timezone.now())
    assert state.state == State.STOPPED
    assert state.backoff_until is not None
    assert loop_backoff_clear().state == State.STOPPED


def test_a_paused_loop_can_be_stopped_and_started_again(theme):
    loop_start()
    loop_pause(reason="x")
    assert loop_stop().state == State.STOPPED
    assert loop_start().state == State.RUNNING


def test_start_without_a_theme_is_refused_and_writes_nothing(django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(
            LoopStartRefused, match=r"no theme loaded: load one with `python manage.py newtheme"
        ),
    ):
        loop_start()
    assert loop_state_get().state == State.STOPPED
    assert _actions() == []
    assert not Schedule.objects.filter(name=LOOP_SCHEDULE_NAME).exists()


BAD_VALUES = [
    ("BIZAGENT_GOALS_TICK_MINUTES", "often", "must be an integer"),
    ("BIZAGENT_GOALS_TICK_MINUTES", "-5", "at least 1"),
    ("BIZAGENT_GOALS_TICK_MINUTES", "99999999999999999999", "at most 1440"),
    ("BIZAGENT_GOALS_SLOT_LEASE_SECONDS", "nan", "must be an integer"),
    ("BIZAGENT_GOALS_BUDGET_EXTENSION_FRACTION", "nan", "finite"),
    ("BIZAGENT_GOALS_BUDGET_EXTENSION_FRACTION", "inf", "finite"),
    ("BIZAGENT_GOALS_BUDGET_EXTENSION_FRACTION", "1e300", "at most"),
    ("BIZAGENT_GOALS_BUDGET_EXTENSION_FRACTION", "-0.5", "at least"),
    ("BIZAGENT_GOALS_CONTEXT_TOKEN_BUDGET", "1e9", "must be an integer"),
    ("BIZAGENT_GOALS_MAX_LEASE_LOSSES", "0", "at least 1"),
    ("BIZAGENT_LOOP_CONCURRENCY", "100000", "at most 64"),
    ("BIZAGENT_LOOP_CONCURRENCY", "", None),  # empty means unset: the default
]


@pytest.mark.parametrize(("variable", "value", "complaint"), BAD_VALUES)
def test_start_checks_every_setting_before_writing_anything(
    theme, monkeypatch, django_capture_on_commit_callbacks, variable, value, complaint
):
    monkeypatch.setenv(variable, value)
    if complaint is None:
        assert loop_start().state == State.RUNNING
        return
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(ImproperlyConfigured, match=complaint) as raised,
    ):
        loop_start()
    message = str(raised.value)
    assert message.startswith(variable) and "\n" not in message
    assert loop_state_get().state == State.STOPPED
    assert _actions() == []
    assert not Schedule.objects.filter(name=LOOP_SCHEDULE_NAME).exists()


def test_a_running_loop_whose_theme_went_away_says_it_waits_for_one(theme):
    loop_start()
    assert "waiting for a theme" not in loop_status().headline
    theme.status = "archived"
    theme.save()
    assert "waiting for a theme" in loop_status().headline
    loop_pause(reason="x")
    assert "waiting for a theme" not in loop_status().headline
