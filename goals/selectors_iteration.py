"""What one iteration reads before it picks its work, in one statement.

The active theme (with its IP profile) comes with three figures the iteration needs
next: today's tokens (the budget gate), the theme's last iteration number (the new
iteration's number, which drives the explore/deepen schedule), and whether a shake-up
is open (the loop is stalled). Each was a query of its own, on every iteration; as
subqueries of the theme's row they cost one round trip. A fourth says whether any task's
lease lapsed, so ``task_leases_expire`` reads the lapsed leases only when there are some
(nearly never: a worker died), not on every iteration.

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
import threading
from dataclasses import dataclass
from typing import TypeVar

from django.db.models import Model

from bizagent.sql import (
    column,
    columns,
    literal,
    placeholders,
    rows_fetch,
    statement,
    table,
    value,
)
from goals.models import Iteration, Task, TaskKind, TokenDay
from goals.selectors import day_start
from ideas.models import IPProfile, Theme

M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class IterationStart:
    """The active theme and the figures read with it (see the module docstring)."""

    theme: Theme
    tokens_used_today: int
    last_number: int
    shake_up_open: bool
    #: Some running task's lease lapsed before ``now`` (any theme's: ``task_leases_expire``).
    leases_lapsed: bool = True


@statement
def _start_sql() -> str:
    """The statement (``bizagent.sql``): names from the models, values as parameters."""
    open_statuses = placeholders(len(Task.OPEN_STATUSES))
    theme_id = column(Theme, "id")
    return (
        f"SELECT {columns(Theme, alias='t')}, {columns(IPProfile, alias='p')}, "  # noqa: S608 - names from model metadata
        f"COALESCE((SELECT d.{column(TokenDay, 'tokens')} FROM {table(TokenDay)} d "
        f"WHERE d.{column(TokenDay, 'theme')} = t.{theme_id} "
        f"AND d.{column(TokenDay, 'day')} = %s), 0), "
        f"COALESCE((SELECT MAX(i.{column(Iteration, 'number')}) FROM {table(Iteration)} i "
        f"WHERE i.{column(Iteration, 'theme')} = t.{theme_id}), 0), "
        f"EXISTS (SELECT 1 FROM {table(Task)} k WHERE k.{column(Task, 'theme')} = t.{theme_id} "
        f"AND k.{column(Task, 'kind')} = %s AND k.{column(Task, 'status')} IN ({open_statuses})), "
        # Not correlated: any theme's (the ``goals_task_lease`` index's key, in its order).
        f"EXISTS (SELECT 1 FROM {table(Task)} l WHERE l.{column(Task, 'status')} = %s "
        f"AND l.{column(Task, 'lease_expires_at')} < %s) "
        f"FROM {table(Theme)} t JOIN {table(IPProfile)} p "
        f"ON p.{column(IPProfile, 'id')} = t.{column(Theme, 'ip_profile')} "
        # The status written in, not a parameter: see ``literal`` (a partial index).
        f"WHERE t.{column(Theme, 'status')} = {literal(Theme.Status.ACTIVE)} "
        f"ORDER BY t.{theme_id} LIMIT 1"
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
    theme = _model_copy(_kept.theme)
    theme.ip_profile = _model_copy(_kept.theme.ip_profile)
    return theme


def _model_copy(instance: M) -> M:
    """``copy.copy(instance)``: what Django's pickling hooks copy (the attributes, its own
    ``_state`` and cache of related objects), without the pickle protocol's round trip
    through ``__reduce_ex__``, which cost more than the rest of the theme's read."""
    state = instance.__dict__.copy()
    state["_state"] = copy.copy(instance._state)
    state["_state"].fields_cache = instance._state.fields_cache.copy()
    made = instance.__class__.__new__(instance.__class__)
    made.__dict__.update(state)
    return made


def iteration_start_read(*, now: dt.datetime) -> IterationStart | None:
    """The active theme with today's tokens, its last iteration number, whether a
    shake-up is open and whether any task's lease lapsed before ``now``; None when no
    theme is active."""
    params = [
        value(TokenDay, "day", day_start(now).date()),
        TaskKind.SHAKE_UP.value,
        *(str(status) for status in Task.OPEN_STATUSES),
        Task.Status.RUNNING.value,
        value(Task, "lease_expires_at", now),
    ]
    found = rows_fetch(_start_sql(), params)
    if not found:
        return None
    *raw, tokens, last_number, shake_up, lapsed = found[0]
    return IterationStart(
        theme=_theme_from(tuple(raw)),
        tokens_used_today=int(tokens),
        last_number=int(last_number),
        shake_up_open=bool(shake_up),
        leases_lapsed=bool(lapsed),
    )
