"""``bizagent.sql``: written-out statements name tables and columns from the models and
read rows back exactly as the ORM would."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import DatabaseError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bizagent.sql import (
    _CURSORS,
    _pyformat,
    column,
    columns,
    default_vendor,
    literal,
    models_from_rows,
    rows_execute,
    rows_fetch,
    rows_insert,
    rows_update,
    statement,
    table,
    value_from_db,
)
from goals.models import Task, TokenDay
from goals.services.queue import task_create
from ideas.models import Theme
from tests.goals.factories import ThemeFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


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


def test_some_columns_or_one_value_read_by_hand_are_what_the_orm_reads():
    theme = ThemeFactory()
    task, _ = task_create(theme=theme, kind="refine", priority=70, metadata={"note": "ノート"})
    names = ("id", "metadata", "created_at")
    picked = ", ".join(column(Task, name) for name in names)
    rows = rows_fetch(f"SELECT {picked} FROM {table(Task)} WHERE id = %s", [task.pk])  # noqa: S608
    [read] = models_from_rows(Task, rows, names=names)
    expected = Task.objects.only(*names).get(pk=task.pk)
    assert (read.pk, read.metadata, read.created_at) == (
        expected.pk,
        expected.metadata,
        expected.created_at,
    )
    assert read.get_deferred_fields() == expected.get_deferred_fields()  # the rest deferred
    ((_, raw_metadata, raw_created),) = rows
    assert value_from_db(Task, "metadata", raw_metadata) == {"note": "ノート"}
    assert value_from_db(Task, "created_at", raw_created) == expected.created_at


def test_a_change_says_how_many_rows_it_changed():
    theme = ThemeFactory()
    task_create(theme=theme, kind="refine", priority=10)
    task_create(theme=theme, kind="generate", priority=10)
    priority, theme_id = column(Task, "priority"), column(Task, "theme")
    sql = f"UPDATE {table(Task)} SET {priority} = %s WHERE {theme_id} = %s"  # noqa: S608
    assert rows_execute(sql, [42, theme.pk]) == 2
    assert set(Task.objects.values_list("priority", flat=True)) == {42}
    assert models_from_rows(Task, []) == []


def _stored(model, pk):
    """The row's stored columns, as the database holds them (not through the model)."""
    sql = f"SELECT {columns(model)} FROM {table(model)} WHERE id = %s"  # noqa: S608
    [row] = rows_fetch(sql, [pk])
    return row


def test_an_insert_by_hand_stores_what_bulk_create_stores():
    import datetime as dt
    import uuid

    from django.contrib.contenttypes.models import ContentType

    from decisions.models import AuditEvent

    theme = ThemeFactory()
    when = dt.datetime(2026, 3, 4, 5, 6, 7, 890_123, tzinfo=dt.UTC)

    def event() -> AuditEvent:
        return AuditEvent(
            uuid=uuid.uuid4(),
            action="goals.task_failed",
            subject_type=ContentType.objects.get_for_model(theme),
            subject_id=str(theme.pk),
            subject_repr="テーマ",
            data={"n": [1, 2.5, None], "note": "ノート", "when": "2026-03-04"},
            created_at=when,
        )

    by_orm = AuditEvent.objects.bulk_create([event(), event()])
    by_hand = rows_insert(AuditEvent, [event(), event()])
    assert all(e.pk is not None and not e._state.adding for e in by_hand)
    assert len({e.pk for e in by_orm + by_hand}) == 4
    for orm, hand in zip(by_orm, by_hand, strict=True):
        stored_orm, stored_hand = _stored(AuditEvent, orm.pk), _stored(AuditEvent, hand.pk)
        names = [f.attname for f in AuditEvent._meta.concrete_fields]
        differ = {name for name, a, b in zip(names, stored_orm, stored_hand, strict=True) if a != b}
        assert differ == {"id", "uuid"}
        assert AuditEvent.objects.get(pk=hand.pk).uuid == hand.uuid
    assert rows_insert(AuditEvent, []) == []


def test_an_insert_by_hand_runs_the_fields_pre_save_and_batches():
    from decisions.models import SheetRow

    rows = [
        SheetRow(tab="decision_log", uuid=f"00000000-0000-0000-0000-{n:012d}", values=[n, "x"])
        for n in range(1, 1201)
    ]
    # 1,200 rows of 12 columns pass SQLite's parameter limit: split in batches.
    inserted = rows_insert(SheetRow, rows)
    assert [r.pk for r in inserted] == sorted(r.pk for r in inserted)
    assert SheetRow.objects.count() == 1200
    last = SheetRow.objects.get(pk=inserted[-1].pk)
    assert last.values == [1200, "x"]
    assert str(last.uuid) == "00000000-0000-0000-0000-000000001200"


def test_an_update_by_hand_assigns_adds_and_matches_nulls():
    theme = ThemeFactory()
    first, _ = task_create(theme=theme, kind="refine", priority=10)
    second, _ = task_create(theme=theme, kind="generate", priority=20)
    Task.objects.filter(pk=second.pk).update(lease_owner="w", lease_expires_at=timezone.now())
    # Only the task without a lease (a NULL expiry) of the theme.
    changed = rows_update(
        Task,
        where={"theme": theme.pk, "lease_expires_at": None},
        assign={"metadata": {"n": [1]}, "last_error": "x"},
        add={"priority": 5, "attempts": 2},
    )
    assert changed == 1
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.priority, first.attempts, first.metadata, first.last_error) == (
        15,
        2,
        {"n": [1]},
        "x",
    )
    assert (second.priority, second.attempts, second.metadata) == (20, 0, {})

    # The same names matched by a value this time: another statement, not the NULL one
    # built for the call above; a value preparation changes (a time) is still prepared.
    expires = second.lease_expires_at
    changed = rows_update(
        Task,
        where={"theme": theme.pk, "lease_expires_at": expires},
        assign={"metadata": {"n": [2]}, "last_error": "y"},
        add={"priority": 1, "attempts": 1},
    )
    assert changed == 1
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.priority, first.last_error) == (15, "x")
    assert (second.priority, second.attempts, second.metadata, second.last_error) == (
        21,
        1,
        {"n": [2]},
        "y",
    )


def test_an_update_by_hand_names_its_rows_and_a_change():
    with pytest.raises(ValueError, match="where is empty"):
        rows_update(Task, where={}, assign={"priority": 1})
    with pytest.raises(ValueError, match="changes something"):
        rows_update(Task, where={"id": 1})


SAMPLES = ["", "テーマ", "2026-03-04", "1", 0, 1, -7, 10**12, True, False, None]


def test_an_insert_passes_as_they_are_only_the_values_preparation_would_not_change():
    """For every concrete field of every installed model: where ``rows_insert`` skips
    ``get_db_prep_save`` for a value's type, preparation returns that very value."""
    from django.apps import apps

    from bizagent.sql import _unchanged_types

    skipped = set()
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            unchanged = _unchanged_types(field, connection)
            for sample in SAMPLES:
                if type(sample) not in unchanged:
                    continue
                prepared = field.get_db_prep_save(sample, connection)
                assert prepared is sample, (model.__name__, field.name, sample, prepared)
                skipped.add((model.__name__, field.name, type(sample).__name__))
    # The shortcut is taken where it matters (text, counters, flags, ids and the foreign
    # keys that hold them) and never for a field whose preparation changes values (JSON,
    # dates, UUIDs).
    assert ("Idea", "title", "str") in skipped
    if connection.vendor == "sqlite":
        assert ("Iteration", "number", "int") in skipped
    assert ("Iteration", "id", "int") in skipped
    assert ("Iteration", "theme", "int") in skipped
    assert ("IdeaChange", "actor", "NoneType") in skipped
    assert ("AuditEvent", "data", "str") not in skipped
    assert not any(name in {"created_at", "uuid"} for _, name, _ in skipped)
    # A foreign key's empty string is None once prepared: never passed as it is.
    assert not any(name == "theme" and kind == "str" for _, name, kind in skipped)


def test_a_utc_datetime_or_none_is_prepared_by_the_backend_adapter_alone():
    """For every datetime field of every installed model: where ``rows_insert`` and
    ``rows_update`` give a value to the backend's adapter alone, the full preparation
    gives the very same parameter; other datetimes still take the full way."""
    import datetime as dt
    import zoneinfo

    from django.apps import apps
    from django.utils import timezone

    from bizagent.sql import _datetime_adapter, _prepared

    samples = [
        None,
        timezone.now(),
        dt.datetime(2026, 3, 4, 5, 6, 7, 890_123, tzinfo=dt.UTC),
        dt.datetime(1999, 12, 31, 23, 59, 59, tzinfo=dt.UTC),
        dt.datetime(2026, 3, 4, 14, 6, 7, tzinfo=zoneinfo.ZoneInfo("Asia/Tokyo")),
    ]
    adapted = set()
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            adapt = _datetime_adapter(field, connection)
            if adapt is None:
                continue
            for sample in samples:
                assert _prepared(field, (), adapt, sample, connection) == field.get_db_prep_save(
                    sample, connection
                ), (model.__name__, field.name, sample)
            adapted.add((model.__name__, field.name))
    assert {("Iteration", "finished_at"), ("AuditEvent", "created_at")} <= adapted
    assert not any(name in {"title", "data", "uuid", "theme"} for _, name in adapted)


def test_a_constant_is_written_in_quoted_and_anything_else_is_refused():
    assert literal(Task.Status.RUNNING) == "'running'"
    theme = ThemeFactory()
    task_create(theme=theme, kind="refine", priority=10)
    sql = (
        f"SELECT COUNT(*) FROM {table(Task)} "  # noqa: S608
        f"WHERE {column(Task, 'status')} = {literal(Task.Status.READY)}"
    )
    assert rows_fetch(sql, []) == [(1,)]
    for given in ("", "it's", "ready' OR '1'='1", "a b", "ready;", "ß"):
        with pytest.raises(ValueError, match="not a constant"):
            literal(given)


def test_parameters_are_named_on_sqlite_and_a_literal_percent_s_stays_literal():
    """Django's SQLite cursor rewrites a ``%s`` statement with a regular expression on
    every run; named parameters take its other path. Same statement, same rows."""
    named, names = _pyformat("SELECT %s, '%%s', %s WHERE a = %s")
    assert named == "SELECT %(p0)s, '%%s', %(p1)s WHERE a = %(p2)s"
    assert names == ("p0", "p1", "p2")
    assert rows_fetch("SELECT %s, '%%s', %s", ["一", 2]) == [("一", "%s", 2)]
    with pytest.raises((ValueError, DatabaseError)):  # a parameter too few: an error
        rows_fetch("SELECT %s, %s", [1])


DAY = dt.date(2026, 3, 4)


@pytest.mark.parametrize(
    "statement",
    [
        pytest.param(lambda: rows_fetch("SELECT * FROM no_such_table", []), id="fetch"),
        pytest.param(lambda: rows_execute("DELETE FROM no_such_table", []), id="execute"),
        # Tokens are never negative: the database's check refuses the row.
        pytest.param(
            lambda: rows_update(TokenDay, where={"day": DAY}, add={"tokens": -(10**6)}),
            id="update",
        ),
        pytest.param(lambda: rows_insert(Task, [Task(kind="refine")]), id="insert"),
    ],
)
def test_a_statement_that_fails_marks_its_atomic_block_for_rollback_as_the_orm_does(statement):
    """The ORM marks the atomic block around a failed statement for rollback: a caller
    that catches the error cannot go on writing as if the statement had run."""
    TokenDay.objects.create(theme=ThemeFactory(), day=DAY, tokens=1)
    with transaction.atomic():
        with pytest.raises(DatabaseError):
            statement()
        assert connection.needs_rollback
    # The block rolled back as it ended, and the database is usable again.
    assert TokenDay.objects.get(day=DAY).tokens == 1


def test_statements_are_built_for_the_default_databases_vendor():
    built = []
    get = statement(lambda: built.append(connection.vendor) or f"SELECT 1 -- {connection.vendor}")
    assert default_vendor() == connection.vendor
    assert get() == get() == f"SELECT 1 -- {connection.vendor}"
    assert built == [connection.vendor]  # built once


def test_written_out_statements_share_a_kept_cursor_that_wrappers_and_counting_still_see():
    connection.ensure_connection()
    seen = []

    def record(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        assert rows_fetch("SELECT %s", [1]) == [(1,)]
        kept = _CURSORS[connections["default"]][1]
        assert rows_fetch("SELECT %s", [2]) == [(2,)]
        # The same cursor, not a new one each time.
        assert _CURSORS[connections["default"]][1] is kept
    assert len(seen) == 2  # the execute wrappers ran for both
    # While queries are counted (a test's assertNumQueries, DEBUG) each statement takes
    # a fresh debug cursor, which records it.
    with CaptureQueriesContext(connection) as counted:
        rows_fetch("SELECT %s", [3])
        rows_execute(f"UPDATE {table(Task)} SET {column(Task, 'priority')} = 1 WHERE 0 = 1", [])  # noqa: S608
    assert len(counted) == 2


def test_a_failed_statement_or_a_new_connection_gets_a_new_cursor():
    connection.ensure_connection()
    rows_fetch("SELECT %s", [1])
    kept = _CURSORS[connections["default"]][1]
    with pytest.raises(DatabaseError), transaction.atomic():  # a savepoint: the test goes on
        rows_fetch("SELECT * FROM no_such_table", [])
    assert connections["default"] not in _CURSORS  # dropped with the failure
    assert rows_fetch("SELECT %s", [2]) == [(2,)]
    assert _CURSORS[connections["default"]][1] is not kept


@pytest.mark.django_db(transaction=True)
def test_a_kept_cursor_follows_a_reconnection_and_sees_other_connections_writes():
    """A cursor belongs to one driver connection; and a finished statement leaves no
    SQLite read snapshot behind, so a row another connection commits is seen next."""
    theme = ThemeFactory()
    count = f"SELECT COUNT(*) FROM {table(Task)}"  # noqa: S608
    assert rows_fetch(count, []) == [(0,)]
    connection.close()
    assert rows_fetch(count, []) == [(0,)]  # reconnects (a fresh cursor while closed)
    assert rows_fetch(count, []) == [(0,)]  # then keeps a cursor of the new connection
    assert _CURSORS[connections["default"]][0] is connections["default"].connection
    # Another thread has its own connection, as another worker does.
    worker = threading.Thread(target=_task_create_and_close, args=(theme.pk,))
    worker.start()
    worker.join()
    assert rows_fetch(count, []) == [(1,)]


def _task_create_and_close(theme_id: int) -> None:
    try:
        task_create(theme=Theme.objects.get(pk=theme_id), kind="refine", priority=1)
    finally:
        connection.close()
