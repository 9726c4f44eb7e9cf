"""Statements written out by hand, for the few paths where the ORM's cost dominates.

Django builds and compiles a query on every call: for the agent loop's small statements
that costs 10 to 30 times running them (a one-column ``update()`` ~0.25 ms against
~0.03 ms for the statement itself; reading the loop's state row ~1 ms). On the loop's
hot path, which runs ~35 statements per iteration around each model call, a few are
written out instead, with these helpers:

* every table and column name comes from the models' metadata, quoted by the backend
  (``table``, ``column``, ``columns``), so a renamed field or table cannot drift from
  the statement, and no value is ever formatted in: values are always parameters (the
  one exception, ``literal``, spells a constant of the code: letters, digits and underscores);
* the statements share one cursor per connection (``_cursor``) and name their
  parameters on SQLite (``_execute``): what Django adds around each statement is most
  of what a small one costs;
* rows read back as model instances go through the same converters a queryset applies
  (``models_from_rows``): SQLite returns datetimes, UUIDs and JSON as text.

Everything else stays with the ORM. Each written-out statement has a test that runs it
on both databases the project supports.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import re
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.base.operations import BaseDatabaseOperations
from django.db.models import (
    BooleanField,
    CharField,
    DateTimeField,
    Field,
    ForeignKey,
    IntegerField,
    Model,
    TextField,
)
from django.db.models.fields import AutoFieldMixin

M = TypeVar("M", bound=Model)


#: The vendor of each database engine met (``django.db.backends.sqlite3``: ``sqlite``).
_VENDORS: dict[str, str] = {}


def default_vendor() -> str:
    """The default database's vendor, from its configured engine: ``connection.vendor``
    finds the thread's connection through asgiref's ``Local`` on every call (~3.7 us;
    the loop asks ~25 times an iteration), the engine is one dictionary read."""
    engine = connections.settings[DEFAULT_DB_ALIAS]["ENGINE"]
    vendor = _VENDORS.get(engine)
    if vendor is None:
        vendor = _VENDORS[engine] = connection.vendor
    return vendor


def statement(build: Callable[[], str]) -> Callable[[], str]:
    """A written-out statement, built by ``build`` once per process and database vendor
    (the names come from the models and quoting is the backend's; nothing else varies)."""
    built: dict[str, str] = {}

    @functools.wraps(build)
    def get() -> str:
        vendor = default_vendor()
        if vendor not in built:
            built[vendor] = build()
        return built[vendor]

    return get


#: What ``literal`` writes into a statement: a constant of the code such as a status.
_LITERAL = re.compile(r"[A-Za-z0-9_]+")


def literal(constant: str) -> str:
    """``constant`` (a status or kind the statement always matches, never a value that
    comes from outside the code) quoted as an SQL string literal.

    For a comparison a partial index's condition names: SQLite compares the query's
    term with the index's condition when it plans, and a parameter in that term makes
    it plan the statement again on every run (``ideas_theme_one_active`` and ``status =
    %s``: 0.35 ms a run, the rest of the loop's start read 0.03 ms). Only letters,
    digits and underscores are accepted, so nothing can need escaping."""
    if not _LITERAL.fullmatch(constant):
        raise ValueError(f"not a constant a statement can spell: {constant!r}")
    return f"'{constant}'"


def placeholders(count: int) -> str:
    """``count`` parameter slots, comma-separated, for an ``IN (...)`` or a row of values."""
    return ", ".join(["%s"] * count)


def table(model: type[Model], *, using: str = "default") -> str:
    """``model``'s table name, quoted for the database ``using``."""
    return connections[using].ops.quote_name(model._meta.db_table)


def _concrete(model: type[Model], name: str) -> Field:
    """``model``'s field ``name``, which must have a column of its own."""
    field = model._meta.get_field(name)
    if not isinstance(field, Field):
        raise TypeError(f"{model.__name__}.{name} is a relation without a column of its own")
    return field


#: Quoted column names per (model, field name, database vendor): names come from the
#: models' metadata, which does not change while the process runs.
_COLUMNS: dict[tuple[type[Model], str, str], str] = {}


def column(model: type[Model], name: str, *, using: str = "default") -> str:
    """The column of ``model``'s field ``name`` (``theme`` gives ``theme_id``), quoted."""
    database = connections[using]
    key = (model, name, database.vendor)
    quoted = _COLUMNS.get(key)
    if quoted is None:
        quoted = _COLUMNS[key] = database.ops.quote_name(_concrete(model, name).column)
    return quoted


def columns(model: type[Model], *, alias: str = "", using: str = "default") -> str:
    """Every concrete column of ``model`` in field order, quoted, comma-separated, each
    prefixed with ``alias.`` when given: the order ``models_from_rows`` reads."""
    quote = connections[using].ops.quote_name
    prefix = f"{alias}." if alias else ""
    return ", ".join(f"{prefix}{quote(field.column)}" for field in model._meta.concrete_fields)


def value(model: type[Model], name: str, given: Any, *, using: str = "default") -> Any:
    """``given`` as the parameter the ORM would send for ``model``'s field ``name`` in a
    filter or an update (JSON encoded, datetimes and dates adapted for the backend)."""
    return _concrete(model, name).get_db_prep_save(given, connections[using])


#: Django's SQLite cursor turns every ``%s`` into ``?`` with a regular expression on
#: each run, ~25 ns a character: ~20 us for one of the loop's longer statements, ~0.35 ms
#: an iteration. Named ("pyformat") parameters take its other path, one ``%`` format.
_FORMAT = re.compile(r"(?<!%)%s")


@functools.lru_cache(maxsize=1024)
def _pyformat(sql: str) -> tuple[str, tuple[str, ...]]:
    """``sql`` with its ``%s`` parameters named ``%(p0)s``, ``%(p1)s``..., and the names
    (the same parameters Django's SQLite cursor finds: a ``%%s`` is a literal ``%s``)."""
    names: list[str] = []

    def named(_: re.Match[str]) -> str:
        names.append(f"p{len(names)}")
        return f"%({names[-1]})s"

    return _FORMAT.sub(named, sql), tuple(names)


def _execute(cur: Any, connection: BaseDatabaseWrapper, sql: str, params: Sequence[Any]) -> None:
    """``cur.execute(sql, params)``; on SQLite with the parameters named, which runs the
    same statement without Django rewriting its text on every call (``_FORMAT``)."""
    if connection.vendor == "sqlite":
        named, names = _pyformat(sql)
        cur.execute(named, dict(zip(names, params, strict=True)))
    else:
        cur.execute(sql, params)


#: Per connection (each thread has its own): the cursor the written-out statements share,
#: with the driver connection it was made on.
_CURSORS: weakref.WeakKeyDictionary[BaseDatabaseWrapper, tuple[Any, Any]] = (
    weakref.WeakKeyDictionary()
)


def _cursor(database: BaseDatabaseWrapper) -> tuple[Any, bool]:
    """A cursor for written-out statements, and whether it is kept (the caller must not
    close it).

    Django makes, wraps and closes a cursor for every statement (~9 us of the ~20 us it
    spends around each; the loop runs ~25 of them an iteration). One cursor per
    connection is kept instead, still Django's wrapper: its execute translates errors,
    checks for a broken transaction and runs the execute wrappers as every cursor's
    does. Not kept: while queries are logged (``DEBUG``, a test counting queries), where
    each statement takes a fresh debug cursor that records it; before the connection is
    opened; and past a reconnection (a cursor belongs to one driver connection). Every
    statement run through a kept cursor is finished (its rows all fetched), so no SQLite
    read snapshot stays open behind it."""
    raw = database.connection
    if raw is None or database.queries_logged:
        return database.cursor(), False
    kept = _CURSORS.get(database)
    if kept is None or kept[0] is not raw:
        kept = (raw, database.cursor())
        _CURSORS[database] = kept
    return kept[1], True


def _cursor_drop(database: BaseDatabaseWrapper, cur: Any, kept: bool) -> None:
    """Close ``cur`` after a failure, and forget it if it was kept: a statement that
    failed half way must not leave its cursor (and on SQLite a read snapshot) behind."""
    if kept and _CURSORS.get(database, (None, None))[1] is cur:
        del _CURSORS[database]
    with contextlib.suppress(Exception):  # the statement's own error is the one that matters
        cur.close()


R = TypeVar("R")


def _on_cursor(database: BaseDatabaseWrapper, work: Callable[[Any], R]) -> R:
    """``work(cursor)`` on the statements' cursor (``_cursor``), dropped if it fails."""
    cur, kept = _cursor(database)
    try:
        result = work(cur)
    except BaseException:
        _cursor_drop(database, cur, kept)
        raise
    if not kept:
        cur.close()
    return result


def _run(database: BaseDatabaseWrapper, sql: str, params: Sequence[Any], *, read: bool) -> Any:
    """Run one statement: all its rows when ``read``, else how many rows it changed."""

    def run(cur: Any) -> Any:
        _execute(cur, database, sql, params)
        return cur.fetchall() if read else cur.rowcount

    return _on_cursor(database, run)


# A failed statement marks the atomic block around it for rollback, as the ORM's
# statements do: ``transaction.mark_for_rollback_on_error`` is entered on the failure
# path only (``_failed``), not around every statement, where its context manager cost
# ~3 us of the ~20 us Django spends around each of the loop's ~35 statements.


def _failed(using: str) -> NoReturn:
    """Re-raise the exception being handled inside ``mark_for_rollback_on_error``, which
    marks the atomic block (if any) for rollback first."""
    with transaction.mark_for_rollback_on_error(using=using):
        raise  # the exception being handled: called only from an except block


def rows_fetch(sql: str, params: Sequence[Any], *, using: str = "default") -> list[tuple]:
    """Run a statement that returns rows and give them all (a failure inside an atomic
    block marks it for rollback, as the ORM does)."""
    database = connections[using]
    try:
        return _run(database, sql, params, read=True)
    except Exception:
        _failed(using)


def rows_execute(sql: str, params: Sequence[Any], *, using: str = "default") -> int:
    """Run a statement that changes rows and give how many it changed."""
    return _rows_execute(connections[using], sql, params, using)


def _rows_execute(
    connection: BaseDatabaseWrapper, sql: str, params: Sequence[Any], using: str
) -> int:
    try:
        return _run(connection, sql, params, read=False)
    except Exception:
        _failed(using)


@dataclass(frozen=True)
class _UpdatePlan:
    """An ``UPDATE``'s statement for one shape of call (which fields it assigns, adds to
    and matches, and which of those it matches as NULL), and the fields whose values it
    prepares, in parameter order, with the types they pass unchanged."""

    sql: str
    assign: tuple[tuple[Field, tuple[type, ...], Adapter | None], ...]
    where: tuple[tuple[Field, tuple[type, ...], Adapter | None], ...]


_UPDATE_PLANS: weakref.WeakKeyDictionary[BaseDatabaseWrapper, dict[tuple, _UpdatePlan]] = (
    weakref.WeakKeyDictionary()
)


def _update_plan(
    model: type[Model],
    connection: BaseDatabaseWrapper,
    assign: tuple[str, ...],
    add: tuple[str, ...],
    where: tuple[tuple[str, bool], ...],
) -> _UpdatePlan:
    plans = _UPDATE_PLANS.setdefault(connection, {})
    key = (model, assign, add, where)
    if key not in plans:
        quote = connection.ops.quote_name
        sets = [f"{quote(_concrete(model, name).column)} = %s" for name in assign]
        for name in add:
            target = quote(_concrete(model, name).column)
            sets.append(f"{target} = {target} + %s")
        conditions = [
            f"{quote(_concrete(model, name).column)} {'IS NULL' if null else '= %s'}"
            for name, null in where
        ]
        plans[key] = _UpdatePlan(
            sql=f"UPDATE {quote(model._meta.db_table)} SET {', '.join(sets)} "  # noqa: S608 - names from model metadata
            f"WHERE {' AND '.join(conditions)}",
            assign=tuple(
                (field, _unchanged_types(field, connection), _datetime_adapter(field, connection))
                for field in (_concrete(model, name) for name in assign)
            ),
            where=tuple(
                (field, _unchanged_types(field, connection), _datetime_adapter(field, connection))
                for field in (_concrete(model, name) for name, null in where if not null)
            ),
        )
    return plans[key]


def rows_update(
    model: type[Model],
    *,
    where: Mapping[str, Any],
    assign: Mapping[str, Any] | None = None,
    add: Mapping[str, Any] | None = None,
    using: str = "default",
) -> int:
    """One written-out ``UPDATE`` of ``model``'s rows where every field of ``where``
    holds its value (None: the column is NULL): ``assign`` sets fields to values
    (prepared as a save prepares them), ``add`` adds to numeric fields in the statement
    itself, so concurrent writers lose no increment. How many rows it changed.

    The statement is built once per shape of call (the names it assigns, adds to and
    matches, and which it matches as NULL) and database connection."""
    if not where:
        raise ValueError("an update names the rows it changes: where is empty")
    assign, add = assign or {}, add or {}
    if not assign and not add:
        raise ValueError("an update changes something: assign and add are empty")
    connection = connections[using]
    plan = _update_plan(
        model,
        connection,
        tuple(assign),
        tuple(add),
        tuple((name, given is None) for name, given in where.items()),
    )
    params: list[Any] = []
    for (field, unchanged, adapt), given in zip(plan.assign, assign.values(), strict=True):
        params.append(_prepared(field, unchanged, adapt, given, connection))
    params.extend(add.values())
    wanted = [given for given in where.values() if given is not None]
    for (field, unchanged, adapt), given in zip(plan.where, wanted, strict=True):
        params.append(_prepared(field, unchanged, adapt, given, connection))
    return _rows_execute(connection, plan.sql, params, using)


#: Per connection (each thread has its own), model and columns read: the converters of
#: each column a query would apply, looked up once instead of on every read.
_CONVERTERS: weakref.WeakKeyDictionary[
    BaseDatabaseWrapper, dict[tuple[type[Model], tuple[str, ...] | None], list]
] = weakref.WeakKeyDictionary()


def _converters(
    model: type[Model], connection: BaseDatabaseWrapper, names: tuple[str, ...] | None = None
) -> list:
    """``(index, converters, col)`` for each column read that has any: ``names`` (field
    names), or every concrete column of ``model`` in field order."""
    known = _CONVERTERS.setdefault(connection, {})
    key = (model, names)
    if key not in known:
        fields = (
            model._meta.concrete_fields
            if names is None
            else [_concrete(model, name) for name in names]
        )
        found = []
        for index, field in enumerate(fields):
            col = field.get_col(model._meta.db_table)
            convert = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
            if convert:
                found.append((index, convert, col))
        known[key] = found
    return known[key]


def value_from_db(model: type[Model], name: str, raw: Any, *, using: str = "default") -> Any:
    """One value of ``model``'s field ``name`` as the driver gave it, converted as a query
    would convert it (JSON decoded, datetimes made aware)."""
    connection = connections[using]
    for _, convert, col in _converters(model, connection, (name,)):
        for converter in convert:
            raw = converter(raw, col, connection)
    return raw


def models_from_rows(
    model: type[M],
    rows: Sequence[Sequence[Any]],
    *,
    names: tuple[str, ...] | None = None,
    using: str = "default",
) -> list[M]:
    """``model`` instances from rows holding every concrete column in field order (see
    ``columns``), or only the columns ``names`` (attribute names, in field order: the
    others are deferred, as ``only()`` leaves them), each value converted as a query
    would convert it."""
    if not rows:
        return []
    connection = connections[using]
    converters = _converters(model, connection, names)
    attnames = names or [field.attname for field in model._meta.concrete_fields]
    instances = []
    for row in rows:
        values = list(row)
        for index, convert, col in converters:
            for converter in convert:
                values[index] = converter(values[index], col, connection)
        instances.append(model.from_db(using, attnames, values))
    return instances


@dataclass(frozen=True)
class _InsertPlan:
    """What every insert of a model into one database repeats: the statement's parts,
    and per column how its value is read and prepared."""

    head: str
    one: str
    tail: str
    auto: str
    #: Per column: the field, whether its ``pre_save`` is the plain attribute read, the
    #: value types its ``get_db_prep_save`` returns unchanged, and its backend adapter
    #: for a UTC datetime or None (``_datetime_adapter``).
    columns: tuple[tuple[Field, bool, tuple[type, ...], Adapter | None], ...]


_INSERT_PLANS: weakref.WeakKeyDictionary[BaseDatabaseWrapper, dict[type[Model], _InsertPlan]] = (
    weakref.WeakKeyDictionary()
)


def _unchanged_types(field: Field, connection: BaseDatabaseWrapper) -> tuple[type, ...]:
    """The value types ``field.get_db_prep_save`` returns as they are on ``connection``:
    for a field that keeps Django's save and value preparation and whose
    ``get_prep_value`` is the character, integer or boolean field's own (``to_python`` or
    ``int`` of a value of that very type is the value; None stays None where it would),
    integers only where the backend does not wrap them (PostgreSQL's psycopg does).

    An auto primary key keeps an integer on every backend that does not check it
    (``validate_autopk_value``: MySQL refuses 0), and so does a foreign key to one (None
    stays None, an integer is its target's to prepare): every row the loop writes names
    its theme, task, idea or iteration by id, ~5 us each the long way."""
    kind = type(field)
    if kind.get_db_prep_save is ForeignKey.get_db_prep_save:
        target = _unchanged_types(field.target_field, connection)  # type: ignore[attr-defined]
        return (int, type(None)) if int in target else ()
    if kind.get_db_prep_save is not Field.get_db_prep_save:
        return ()
    prep, prep_value = kind.get_prep_value, kind.get_db_prep_value
    if (
        prep_value is AutoFieldMixin.get_db_prep_value  # type: ignore[attr-defined]
        and prep is IntegerField.get_prep_value
        and type(connection.ops).validate_autopk_value
        is BaseDatabaseOperations.validate_autopk_value
    ):
        return (int, type(None))
    if prep_value is Field.get_db_prep_value:
        if prep in (CharField.get_prep_value, TextField.get_prep_value):
            return (str, type(None))
        if prep is BooleanField.get_prep_value:
            return (bool,)
    if (
        prep_value is IntegerField.get_db_prep_value
        and prep is IntegerField.get_prep_value
        and type(connection.ops).adapt_integerfield_value
        is BaseDatabaseOperations.adapt_integerfield_value
    ):
        return (int, type(None))
    return ()


#: A backend's adaptation of a value for a statement (``adapt_datetimefield_value``).
Adapter = Callable[[Any], Any]


def _datetime_adapter(field: Field, connection: BaseDatabaseWrapper) -> Adapter | None:
    """The backend's ``adapt_datetimefield_value``, for a field that keeps Django's
    datetime preparation: for None and for an aware datetime (which ``get_prep_value``
    returns as it is: ``to_python`` keeps a datetime, only a naive one is changed) that
    adapter is all ``get_db_prep_save`` applies. Skipping the rest saves ~7 us a value:
    ``get_prep_value`` reads ``settings.USE_TZ`` through the lazy settings object, and a
    loop iteration prepares ~20 datetimes."""
    kind = type(field)
    if (
        kind.get_db_prep_save is Field.get_db_prep_save
        and kind.get_db_prep_value is DateTimeField.get_db_prep_value
        and kind.get_prep_value is DateTimeField.get_prep_value
        and kind.to_python is DateTimeField.to_python
    ):
        return connection.ops.adapt_datetimefield_value
    return None


def _prepared(
    field: Field,
    unchanged: tuple[type, ...],
    adapt: Adapter | None,
    given: Any,
    connection: BaseDatabaseWrapper,
) -> Any:
    """``field.get_db_prep_save(given, connection)``, by the shortest way that gives the
    same value: as it is for a type preparation keeps (``_unchanged_types``), the backend
    adapter alone for None or a UTC datetime (``_datetime_adapter``; ``timezone.now()``
    gives those)."""
    kind = type(given)
    if kind in unchanged:
        return given
    if adapt is not None and (given is None or (kind is dt.datetime and given.tzinfo is dt.UTC)):
        return adapt(given)
    return field.get_db_prep_save(given, connection)


def _insert_plan(model: type[Model], connection: BaseDatabaseWrapper) -> _InsertPlan:
    plans = _INSERT_PLANS.setdefault(connection, {})
    if model not in plans:
        meta = model._meta
        auto = meta.auto_field
        if auto is None:
            raise TypeError(f"{model.__name__} has no auto primary key to read back")
        fields = [field for field in meta.concrete_fields if field is not auto]
        quote = connection.ops.quote_name
        names = ", ".join(quote(field.column) for field in fields)
        plans[model] = _InsertPlan(
            head=f"INSERT INTO {quote(meta.db_table)} ({names}) VALUES ",  # noqa: S608 - names from model metadata
            one=f"({placeholders(len(fields))})",
            tail=f" RETURNING {quote(auto.column)}",
            auto=auto.attname,
            columns=tuple(
                (
                    field,
                    type(field).pre_save is Field.pre_save,
                    _unchanged_types(field, connection),
                    _datetime_adapter(field, connection),
                )
                for field in fields
            ),
        )
    return plans[model]


def rows_insert(model: type[M], instances: Sequence[M], *, using: str = "default") -> list[M]:
    """Insert new ``instances`` of ``model`` in one statement per batch, setting each one's
    primary key, as ``bulk_create`` does without its per-call machinery.

    Each value is prepared as the ORM prepares it for an insert (``pre_save`` then
    ``get_db_prep_save``: JSON encoded, datetimes and UUIDs adapted; a string, integer or
    boolean that preparation would return unchanged is passed as it is); the auto
    primary key is left to the database and read back with ``RETURNING``. Where the
    database cannot return rows from a bulk insert, ``bulk_create`` itself runs.
    """
    if not instances:
        return []
    connection = connections[using]
    if not connection.features.can_return_rows_from_bulk_insert or model._meta.auto_field is None:
        return model._default_manager.using(using).bulk_create(instances)
    plan = _insert_plan(model, connection)
    # One row is one batch whatever the backend's limit (at least one row a batch): most
    # of the loop's inserts are of one row, and asking the backend cost ~5 us each.
    batch = (
        1
        if len(instances) == 1
        else max(1, connection.ops.bulk_batch_size([c[0] for c in plan.columns], instances))
    )
    try:
        _rows_insert(connection, plan, instances, batch, using)
    except Exception:
        _failed(using)
    return list(instances)


def _rows_insert(
    connection: BaseDatabaseWrapper,
    plan: _InsertPlan,
    instances: Sequence[Model],
    batch: int,
    using: str,
) -> None:
    def insert(cur: Any) -> None:
        for start in range(0, len(instances), batch):
            chunk = instances[start : start + batch]
            params: list[Any] = []
            for instance in chunk:
                for field, plain, unchanged, adapt in plan.columns:
                    given = (
                        getattr(instance, field.attname)
                        if plain
                        else field.pre_save(instance, True)
                    )
                    params.append(_prepared(field, unchanged, adapt, given, connection))
            _execute(
                cur, connection, plan.head + ", ".join([plan.one] * len(chunk)) + plan.tail, params
            )
            # RETURNING gives the rows in insert order on both SQLite and PostgreSQL
            # for a single VALUES list (what bulk_create relies on too).
            for instance, (pk,) in zip(chunk, cur.fetchall(), strict=True):
                setattr(instance, plan.auto, pk)
                instance._state.adding = False
                instance._state.db = using

    _on_cursor(connection, insert)
