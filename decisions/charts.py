"""How long decisions take: the median hours from asking to a person's answer, per week
over the last ``WEEKS`` weeks, as a server-side SVG (``bizagent.svg``) with its rows for
the table under it.

One query: the database picks the weeks' decided rows and only their two times come back
(a few hundred rows for two months of decisions); they are put in local weeks and the
median taken here, because SQLite and PostgreSQL share no median aggregate (and an average
would let one forgotten decision hide how fast the rest were).
Only decisions a person answered count (``decided_by`` set): an expired one was not
decided by anybody.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext as _

from bizagent.svg import bar_chart
from decisions.models import Decision

#: Weeks the chart covers: two months show whether answers are getting slower.
WEEKS = 8


@dataclass(frozen=True)
class DecideWeek:
    week: dt.date  # the Monday the week starts
    decided: int
    median_hours: float | None


@dataclass(frozen=True)
class DecideChart:
    svg: str
    weeks: list[DecideWeek]


def decide_hours_by_week(*, today: dt.date | None = None, weeks: int = WEEKS) -> list[DecideWeek]:
    """Per week (Monday first) of the last ``weeks``, this one included: how many
    decisions people answered and the median hours each took (``None``: none answered)."""
    today = today or timezone.localdate()
    monday = today - dt.timedelta(days=today.weekday())
    first = monday - dt.timedelta(weeks=weeks - 1)
    since = timezone.make_aware(dt.datetime.combine(first, dt.time()))
    rows = Decision.objects.filter(decided_at__gte=since, decided_by__isnull=False).values_list(
        "requested_at", "decided_at"
    )
    hours: dict[dt.date, list[float]] = defaultdict(list)
    for requested_at, decided_at in rows:
        assert decided_at is not None  # filtered on above
        day = timezone.localdate(decided_at)
        week = day - dt.timedelta(days=day.weekday())
        hours[week].append(max((decided_at - requested_at).total_seconds(), 0) / 3600)
    result = []
    for n in range(weeks):
        week = first + dt.timedelta(weeks=n)
        taken = hours.get(week, [])
        result.append(
            DecideWeek(
                week=week,
                decided=len(taken),
                median_hours=round(statistics.median(taken), 1) if taken else None,
            )
        )
    return result


def decide_chart(*, today: dt.date | None = None) -> DecideChart:
    """The chart: one bar per week, its height the median hours to decide."""
    weeks = decide_hours_by_week(today=today)
    svg = bar_chart(
        labels=[week.week.strftime("%m-%d") for week in weeks],
        bars=[week.median_hours or 0 for week in weeks],
        label=_("Median hours to decide, per week, last 8 weeks"),
        css_class="decide-chart",
    )
    return DecideChart(svg=svg, weeks=weeks)
