"""What the studio's charts read: each chart one or two aggregate queries.

Ideas per day with their average scores, and tokens spent per day against the daily
budget, over the last ``DAYS`` days. The database groups and averages (``TruncDate``,
``Count``, ``Avg``, ``Sum``): the rows that come back are one per day, never one per idea,
so 300 ideas or 100,000 cost the same number of queries. Days without a row are filled
in here (a day with no ideas is a zero, not a gap).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Avg, Count, F, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from goals.models import Iteration, TokenGrant
from goals.selectors import day_start
from ideas.models import Idea, Theme

#: How many days the studio's charts cover: two weeks show a trend without crowding.
DAYS = 14


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


def ideas_by_day(*, theme: Theme, today: dt.date | None = None, days: int = DAYS) -> list[IdeasDay]:
    """The ``theme``'s ideas created each day of the last ``days`` (the ones people see:
    ``Idea.VISIBLE_STATUSES``) and their average scores, a person's score winning over
    the model's as everywhere else (``Idea.effective_*``); ``None`` where none is scored.
    One query."""
    today = today or timezone.localdate()
    rows = (
        Idea.objects.filter(
            theme=theme,
            status__in=Idea.VISIBLE_STATUSES,
            created_at__gte=_since(today, days),
        )
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(
            n=Count("id"),
            brand_fit=Avg(Coalesce("human_brand_fit", "brand_fit")),
            novelty=Avg(Coalesce("human_novelty", "novelty")),
            feasibility=Avg(Coalesce("human_feasibility", "feasibility")),
        )
        .order_by()
    )
    by_day = {row["day"]: row for row in rows}
    result = []
    for day in _days(today, days):
        row = by_day.get(day, {})
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
    spent = dict(
        Iteration.objects.filter(theme=theme, started_at__gte=_since(today, days))
        .annotate(day=TruncDate("started_at"))
        .values("day")
        .annotate(total=Sum(F("prompt_tokens") + F("completion_tokens")))
        .order_by()
        .values_list("day", "total")
    )
    granted = dict(
        TokenGrant.objects.filter(theme=theme, day__gte=today - dt.timedelta(days=days - 1))
        .values("day")
        .annotate(total=Sum("tokens"))
        .order_by()
        .values_list("day", "total")
    )
    budget = theme.daily_token_budget
    return [
        TokensDay(
            day=day,
            tokens=int(spent.get(day) or 0),
            budget=budget + int(granted.get(day) or 0),
        )
        for day in _days(today, days)
    ]
