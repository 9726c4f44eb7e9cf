"""The loop's state row read and written by written-out statements (``bizagent.sql``):
the same values the ORM reads and writes."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from goals.models import LoopState, Role, TaskKind
from goals.selectors import loop_state_get
from goals.services.loop import loop_current_set, loop_iteration_count
from goals.services.queue import task_create

pytestmark = pytest.mark.django_db


def _same_as_the_orm(read: LoopState) -> None:
    expected = LoopState.objects.get(pk=LoopState.SINGLETON_ID)
    for field in LoopState._meta.concrete_fields:
        assert getattr(read, field.attname) == getattr(expected, field.attname), field.name


def test_the_row_reads_as_the_orm_reads_it(theme):
    now = timezone.now()
    LoopState.objects.filter(pk=LoopState.SINGLETON_ID).update(
        state=LoopState.State.BACKING_OFF,
        reason="model server: refused ノー",
        backoff_failures=3,
        backoff_until=now + dt.timedelta(seconds=90),
        strategy_theme=theme,
        explore_ratio=0.35,
        strategy_focus="gifts",
        tokens_total=12_345_678_901,
    )
    read = loop_state_get()
    _same_as_the_orm(read)
    assert read.backoff_until == now + dt.timedelta(seconds=90)
    assert read.strategy_for(theme) == (0.35, "gifts")
    assert not read._state.adding


def test_a_flushed_database_reads_as_a_stopped_loop_unsaved():
    LoopState.objects.all().delete()
    read = loop_state_get()
    assert read.state == LoopState.State.STOPPED and read._state.adding


def test_working_on_and_the_counters_are_written_as_the_orm_writes_them(theme):
    task, _ = task_create(theme=theme, kind="generate")
    started = timezone.now()
    loop_current_set(task=task, role="ideator", worker="slot-1", now=started)
    state = LoopState.objects.get()
    assert (state.current_task_id, state.current_role, state.current_worker) == (
        task.pk,
        "ideator",
        "slot-1",
    )
    assert state.current_started_at == started
    loop_iteration_count(
        role="ideator", tokens=70, failed=True, error_class="x" * 50, error_detail="bad"
    )
    state = LoopState.objects.get()
    assert (state.current_task_id, state.current_role, state.current_started_at) == (None, "", None)
    assert (state.iterations_total, state.iterations_failed, state.tokens_total) == (1, 1, 70)
    assert (state.last_error_class, state.last_error) == ("x" * 40, "bad")
    _same_as_the_orm(loop_state_get())


def test_working_on_is_not_indexed_and_a_deleted_task_is_let_go(theme):
    """The one-row table keeps no index on the task it works on (written twice an
    iteration for nothing); deleting that task still clears it."""
    with connection.cursor() as cursor:
        indexed = {
            column
            for details in connection.introspection.get_constraints(
                cursor, LoopState._meta.db_table
            ).values()
            if details["index"] and not details["primary_key"]
            for column in details["columns"]
        }
    assert "current_task_id" not in indexed
    task, _ = task_create(theme=theme, kind=TaskKind.GENERATE, brief="Ideas.")
    loop_current_set(task=task, role=Role.IDEATOR, worker="w1")
    assert loop_state_get().current_task_id == task.pk
    task.delete()
    assert loop_state_get().current_task_id is None
