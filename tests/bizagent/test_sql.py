"""``bizagent.sql``: written-out statements name tables and columns from the models and
read rows back exactly as the ORM would."""

from __future__ import annotations

import pytest
from django.db import connection

from bizagent.sql import column, columns, models_from_rows, rows_execute, rows_fetch, table
from goals.models import Task
from goals.services.queue import task_create
from tests.goals.factories import ThemeFactory

pytestmark = pytest.mark.django_db


def test_names_come_from_the_model_quoted_by_the_backend():
    quote = connection.ops.quote_name
    assert table(Task) == quote("goals_task")
    assert column(Task, "theme") == quote("theme_id")
    listed = columns(Task, alias="t").split(", ")
    assert listed == [f"t.{quote(field.column)}" for field in Task._meta.concrete_fields]


def test_a_row_read_by_hand_is_the_instance_the_orm_reads():
    theme = ThemeFactory()
    task, _ = task_create(
        theme=theme, kind="refine", priority=70, metadata={"note": "ノート", "n": [1, 2]}
    )
    sql = f"SELECT {columns(Task)} FROM {table(Task)} WHERE id = %s"  # noqa: S608
    rows = rows_fetch(sql, [task.pk])
    [read] = models_from_rows(Task, rows)
    expected = Task.objects.get(pk=task.pk)
    for field in Task._meta.concrete_fields:
        assert getattr(read, field.attname) == getattr(expected, field.attname), field.name
    assert read.metadata == {"note": "ノート", "n": [1, 2]}
    assert not read._state.adding


def test_a_change_says_how_many_rows_it_changed():
    theme = ThemeFactory()
    task_create(theme=theme, kind="refine", priority=10)
    task_create(theme=theme, kind="generate", priority=10)
    priority, theme_id = column(Task, "priority"), column(Task, "theme")
    sql = f"UPDATE {table(Task)} SET {priority} = %s WHERE {theme_id} = %s"  # noqa: S608
    assert rows_execute(sql, [42, theme.pk]) == 2
    assert set(Task.objects.values_list("priority", flat=True)) == {42}
    assert models_from_rows(Task, []) == []
