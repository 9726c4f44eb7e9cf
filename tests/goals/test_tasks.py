"""The django-q2 tick: one bounded iteration, never two at once, obeying the loop state."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django_q.models import OrmQ, Schedule

from goals.models import Iteration
from goals.services import loop_pause, loop_resume, loop_start, loop_stop
from goals.services.loop import LOOP_SCHEDULE_NAME
from goals.tasks import TICK_LOCK_KEY, loop_tick
from tests.goals.studio import StudioClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def studio(monkeypatch):
    client = StudioClient()
    monkeypatch.setattr("goals.services.iteration.llm_client", lambda: client)
    return client


@pytest.fixture(autouse=True)
def _no_lock_left():
    cache.delete(TICK_LOCK_KEY)
    yield
    cache.delete(TICK_LOCK_KEY)


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


def test_ticks_never_overlap(theme, studio):
    loop_start()
    cache.add(TICK_LOCK_KEY, "another-worker", timeout=60)
    assert loop_tick() == "busy"
    assert not Iteration.objects.exists()
    assert cache.get(TICK_LOCK_KEY) == "another-worker"


def test_the_tick_releases_its_lock(theme, studio):
    loop_start()
    loop_tick()
    assert cache.get(TICK_LOCK_KEY) is None


def test_a_tick_that_worked_queues_the_next_one(theme, studio, settings):
    settings.GOALS_TICK_CHAIN = True
    loop_start()
    assert loop_tick() == "ran"
    assert OrmQ.objects.count() == 1
    loop_pause(reason="x")
    assert loop_tick() == "paused"
    assert OrmQ.objects.count() == 1


def test_the_duty_cycle_rests_between_iterations(theme, studio):
    config = dict(theme.config)
    config["iteration_policy"] = {**config["iteration_policy"], "duty_cycle": 0.01}
    theme.config = config
    theme.save()
    loop_start()
    assert loop_tick() == "ran"
    assert loop_tick() == "resting"
