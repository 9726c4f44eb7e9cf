"""What one iteration reads before it picks its work, in one statement.

The active theme (with its IP profile) comes with three figures the iteration needs
next: today's tokens (the budget gate), the theme's last iteration number (the new
iteration's number, which drives the explore/deepen schedule), and whether a shake-up
is open (the loop is stalled). Each was a query of its own, on every iteration; as
subqueries of the theme's row they cost one round trip.

The statement is written out once, not built by the ORM per call: Django compiled the
three correlated subqueries anew on every iteration, ~20 times the cost of running
them. The theme and its profile come back as their raw columns, and the model
instances are only built again when one of those columns changed (they are kept per
process, keyed on every column, so a theme edited in the admin, by ``newtheme`` or by
a plain ``update()`` is read fresh on the next iteration). Each caller gets its own
copy of the instance.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import threading
from dataclasses import dataclass

from django.db import connection

from goals.models import Iteration, Task, TaskKind, TokenDay
from goals.selectors import day_start
from ideas.models import IPProfile, Theme


@dataclass(frozen=True)
class IterationStart:
    """The active theme and the figures read with it (see the module docstring)."""

    theme: Theme
    tokens_used_today: int
    last_number: int
    shake_up_open: bool


def _columns(model: type[Theme] | type[IPProfile], alias: str) -> list[str]:
    quote = connection.ops.quote_name
    return [f"{alias}.{quote(field.column)}" for field in model._meta.concrete_fields]


@functools.cache
def _start_sql(vendor: str) -> str:
    """The statement for the database ``vendor`` (quoting is the backend's). Only names
    from the models' metadata are formatted in; every value is a parameter."""
    quote = connection.ops.quote_name
    open_statuses = ", ".join(["%s"] * len(Task.OPEN_STATUSES))
    select = ", ".join(_columns(Theme, "t") + _columns(IPProfile, "p"))
    return (
        f"SELECT {select}, "  # noqa: S608 - names from model metadata, values are parameters
        f"COALESCE((SELECT d.{quote('tokens')} FROM {quote(TokenDay._meta.db_table)} d "
        f"WHERE d.{quote('theme_id')} = t.{quote('id')} AND d.{quote('day')} = %s), 0), "
        f"COALESCE((SELECT MAX(i.{quote('number')}) FROM {quote(Iteration._meta.db_table)} i "
        f"WHERE i.{quote('theme_id')} = t.{quote('id')}), 0), "
        f"EXISTS (SELECT 1 FROM {quote(Task._meta.db_table)} k "
        f"WHERE k.{quote('theme_id')} = t.{quote('id')} AND k.{quote('kind')} = %s "
        f"AND k.{quote('status')} IN ({open_statuses})) "
        f"FROM {quote(Theme._meta.db_table)} t "
        f"JOIN {quote(IPProfile._meta.db_table)} p ON p.{quote('id')} = t.{quote('ip_profile_id')} "
        f"WHERE t.{quote('status')} = %s ORDER BY t.{quote('id')} LIMIT 1"
    )


class _ThemeKept(threading.local):
    """The last theme built from its raw columns, per process and thread."""

    row: tuple[object, ...] | None = None
    theme: Theme | None = None


_kept = _ThemeKept()


def _theme_from(row: tuple[object, ...]) -> Theme:
    """The theme (with its IP profile) whose raw columns are ``row``: the one built last
    time when no column changed, else read again."""
    if _kept.row != row or _kept.theme is None:
        theme = Theme.objects.select_related("ip_profile").get(pk=int(str(row[0])))
        _kept.row, _kept.theme = row, theme
    # A copy per caller: one iteration setting an attribute cannot reach the next.
    theme = copy.copy(_kept.theme)
    theme.ip_profile = copy.copy(_kept.theme.ip_profile)
    return theme


def iteration_start_read(*, now: dt.datetime) -> IterationStart | None:
    """The active theme with today's tokens, its last iteration number and whether a
    shake-up is open; None when no theme is active."""
    params = [
        connection.ops.adapt_datefield_value(day_start(now).date()),
        TaskKind.SHAKE_UP.value,
        *(str(status) for status in Task.OPEN_STATUSES),
        Theme.Status.ACTIVE.value,
    ]
    with connection.cursor() as cursor:
        cursor.execute(_start_sql(connection.vendor), params)
        row = cursor.fetchone()
    if row is None:
        return None
    *columns, tokens, last_number, shake_up = row
    return IterationStart(
        theme=_theme_from(tuple(columns)),
        tokens_used_today=int(tokens),
        last_number=int(last_number),
        shake_up_open=bool(shake_up),
    )
