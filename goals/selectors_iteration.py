"""What one iteration reads before it picks its work, in one query.

The active theme (with its IP profile) comes with three figures the iteration needs
next: today's tokens (the budget gate), the theme's last iteration number (the new
iteration's number, which drives the explore/deepen schedule), and whether a shake-up
is open (the loop is stalled). Each was a query of its own, on every iteration; as
subqueries of the theme's row they cost one round trip and one compiled statement.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Exists, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

from goals.models import Iteration, Task, TaskKind, TokenDay
from goals.selectors import day_start
from ideas.models import Theme


@dataclass(frozen=True)
class IterationStart:
    """The active theme and the figures read with it (see the module docstring)."""

    theme: Theme
    tokens_used_today: int
    last_number: int
    shake_up_open: bool


def iteration_start_read(*, now: dt.datetime) -> IterationStart | None:
    """The active theme with today's tokens, its last iteration number and whether a
    shake-up is open; None when no theme is active."""
    tokens = TokenDay.objects.filter(theme=OuterRef("pk"), day=day_start(now).date()).values(
        "tokens"
    )[:1]
    last = Iteration.objects.filter(theme=OuterRef("pk")).order_by("-number").values("number")[:1]
    shake_up = Task.objects.filter(
        theme=OuterRef("pk"), kind=TaskKind.SHAKE_UP, status__in=Task.OPEN_STATUSES
    )
    theme = (
        Theme.objects.select_related("ip_profile")
        .filter(status=Theme.Status.ACTIVE)
        .annotate(
            start_tokens=Coalesce(Subquery(tokens), Value(0), output_field=IntegerField()),
            start_last_number=Coalesce(Subquery(last), Value(0), output_field=IntegerField()),
            start_shake_up=Exists(shake_up),
        )
        .first()
    )
    if theme is None:
        return None
    return IterationStart(
        theme=theme,
        tokens_used_today=int(theme.start_tokens),
        last_number=int(theme.start_last_number),
        shake_up_open=bool(theme.start_shake_up),
    )
