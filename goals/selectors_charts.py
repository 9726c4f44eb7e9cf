"""What the studio's charts read: each chart one or two aggregate queries.

Ideas per day with their average scores, and tokens spent per day against the daily
budget, over the last ``DAYS`` days. The database counts and averages (``Count``,
``Avg``, ``Sum``, one aggregate per local day): one row per day comes back, never one
per idea, so 300 ideas or 100,000 cost the same number of queries, and a day with no
ideas is a zero, not a gap.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Avg, Count, F, IntegerField, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from goals.models import Iteration, TokenGrant
from goals.selectors import day_start
from ideas.models import Idea, Theme

#: How many days the studio's charts cover: two weeks show a trend without crowding.
DAYS = 14
#: The scores the chart averages (each has a ``human_`` twin that wins when set).
SCORES = ("brand_fit", "novelty", "feasibility")


@dataclass(frozen=True)
class IdeasDay:
    day: dt.date
    created: int
    brand_fit: float | None
    novelty: float | None
    feasibility: float | None


@dataclass(frozen=True)
class TokensDay:
    day: dt.date
    tokens: int
    budget: int


def _days(today: dt.date, days: int) -> list[dt.date]:
    return [today - dt.timedelta(days=days - 1 - n) for n in range(days)]


def _since(today: dt.date, days: int) -> dt.datetime:
    first = today - dt.timedelta(days=days - 1)
    return day_start(timezone.make_aware(dt.datetime.combine(first, dt.time(12))))


def _day_bounds(today: dt.date, days: int) -> list[tuple[dt.date, dt.datetime, dt.datetime]]:
    """Each day with its local midnight and the next one (a day is 23 or 25 hours when
    the clocks change, so the bounds are computed, never added up)."""
    dates = _days(today, days)
    starts = [_since(day, 1) for day in [*dates, today + dt.timedelta(days=1)]]
    return [(day, starts[n], starts[n + 1]) for n, day in enumerate(dates)]


def ideas_by_day(*, theme: Theme, today: dt.date | None = None, days: int = DAYS) -> list[IdeasDay]:
    """The ``theme``'s ideas created each day of the last ``days`` (the ones people see:
    ``Idea.VISIBLE_STATUSES``) and their average scores, a person's score winning over
    the model's as everywhere else (``Idea.effective_*``); ``None`` where none is scored.
    One query."""
    today = today or timezone.localdate()
    bounds = _day_bounds(today, days)
    visible = Idea.objects.filter(theme=theme, status__in=Idea.VISIBLE_STATUSES).order_by()
    # One aggregate per day over that day's range, all days in one UNION ALL query: each
    # day is a range of the ideas_idea_chart index, which holds every column read here
    # (no visit to the table), and nothing is sorted. Bucketing the rows instead (a CASE
    # of the 14 midnights, then GROUP BY) compares every row 14 times and sorts them all:
    # 3 to 5 times slower at 100,000 ideas (benchmarks/admin.py). No per-row date
    # function either: SQLite runs ``TruncDate`` in Python for every row.
    per_day = [
        visible.filter(created_at__gte=start, created_at__lt=end)
        .annotate(day_number=Value(n, output_field=IntegerField()))
        .values("day_number")
        .annotate(
            n=Count("*"),
            **{score: Avg(Coalesce(f"human_{score}", score)) for score in SCORES},
        )
        .values("day_number", "n", *SCORES)
        for n, (_day, start, end) in enumerate(bounds)
    ]
    rows = per_day[0].union(*per_day[1:], all=True)
    by_number: dict[int, dict[str, Any]] = {row["day_number"]: row for row in rows}
    result = []
    for n, (day, _start, _end) in enumerate(bounds):
        row = by_number.get(n, {})
        result.append(
            IdeasDay(
                day=day,
                created=row.get("n", 0),
                brand_fit=row.get("brand_fit"),
                novelty=row.get("novelty"),
                feasibility=row.get("feasibility"),
            )
        )
    return result


def tokens_by_day(
    *, theme: Theme, today: dt.date | None = None, days: int = DAYS
) -> list[TokensDay]:
    """Tokens the ``theme``'s iterations spent each day of the last ``days`` and that
    day's budget (the theme's daily budget plus that day's grants, as the loop counts
    it). Two queries."""
    today = today or timezone.localdate()
    bounds = _day_bounds(today, days)
    tokens = F("prompt_tokens") + F("completion_tokens")
    spent = Iteration.objects.filter(
        theme=theme, started_at__gte=bounds[0][1], started_at__lt=bounds[-1][2]
    ).aggregate(
        **{
            f"t{n}": Sum(tokens, filter=Q(started_at__gte=start, started_at__lt=end))
            for n, (_day, start, end) in enumerate(bounds)
        }
    )
    granted = dict(
        TokenGrant.objects.filter(theme=theme, day__gte=bounds[0][0], day__lte=today)
        .values("day")
        .annotate(total=Sum("tokens"))
        .order_by()
        .values_list("day", "total")
    )
    budget = theme.daily_token_budget
    return [
        TokensDay(
            day=day,
            tokens=int(spent[f"t{n}"] or 0),
            budget=budget + int(granted.get(day) or 0),
        )
        for n, (day, _start, _end) in enumerate(bounds)
    ]
