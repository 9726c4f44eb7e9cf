"""What the home page reads: one function per section, each a bounded number of queries.

The page answers "how is it going, what do you need from me" at any size: lists are
cut to a few rows (the full lists are a link away) and counts are single aggregates,
so 100,000 ideas or 10,000 decisions cost the same number of queries as ten.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import Group, User
from django.db.models import Count
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django_q.models import OrmQ, Schedule

from decisions.models import Decision, SheetRow
from decisions.selectors import decision_queue
from goals.charts import progress_chart_small
from goals.forecast import Forecast, Trend
from goals.models import Goal, LoopState, Task
from goals.selectors import loop_state_get, tokens_granted_today, tokens_used_today
from goals.selectors_progress import goals_forecasts
from goals.wording import INDEX_STATUSES, TREND_WORDS, goal_amount_text
from ideas.models import Idea, Theme
from ideas.selectors import theme_active
from workflows.models import Run

#: Rows a section lists before "see all": enough to act on, few enough to stay fast.
SECTION_ROWS = 5
#: Goals the home page forecasts and draws (their readings in one query; the goals page
#: has them all).
GOALS_SHOWN = 6
#: Ideas this week are counted up to this many; more show as "1,000+".
IDEAS_COUNT_CAP = 1000


#: Each trend in words a person reads (the forecast's own vocabulary is for code).
@dataclass(frozen=True)
class NeedsYou:
    decisions: list[Decision]
    decisions_count: int
    blocked: list[Task]
    blocked_count: int


def home_needs_you() -> NeedsYou:
    """Pending decisions, most urgent first, and blocked work, a few of each with counts."""
    pending = decision_queue()
    blocked = Task.objects.filter(status=Task.Status.BLOCKED).select_related("theme")
    return NeedsYou(
        decisions=list(pending[:SECTION_ROWS]),
        decisions_count=pending.count(),
        blocked=list(blocked.order_by("-finished_at", "-id")[:SECTION_ROWS]),
        blocked_count=blocked.count(),
    )


@dataclass(frozen=True)
class GoalRow:
    goal: Goal
    forecast: Forecast
    percent: int
    forecast_percent: int
    achieved_text: str
    target_text: str
    projected_text: str
    trend_words: str
    #: The small progress chart (``goals.charts.progress_chart_small``, which escapes
    #: every text it draws).
    chart_svg: SafeString

    @property
    def behind(self) -> bool:
        return self.forecast.trend == Trend.BEHIND


def _percent(part: int | None, whole: int) -> int:
    if part is None or whole <= 0:
        return 0
    return min(100, max(0, part * 100 // whole))


def home_goals(*, today: dt.date | None = None) -> tuple[list[GoalRow], int]:
    """Active and planned goals soonest-ending first, with the monitor's forecast and a
    small chart of each; and how many there are in all. Three queries at any number of
    goals: the goals, their count, and the readings of all the shown goals at once."""
    today = today or timezone.localdate()
    goals = Goal.objects.filter(status__in=INDEX_STATUSES).order_by("period_end", "pk")
    shown = list(goals[:GOALS_SHOWN])
    forecasts = goals_forecasts(goals=shown, today=today)
    rows = []
    for goal in shown:
        forecast, daily = forecasts[goal.pk]
        projected = forecast.projected_total
        chart = progress_chart_small(
            start=goal.period_start,
            end=goal.period_end,
            target=goal.target_amount,
            daily=daily,
            forecast=forecast,
            label=_("%(goal)s: actual so far against the target line and the forecast to %(end)s")
            % {"goal": goal.text[:80], "end": goal.period_end.isoformat()},
        )
        rows.append(
            GoalRow(
                goal=goal,
                forecast=forecast,
                percent=_percent(forecast.achieved, forecast.target),
                forecast_percent=_percent(projected, forecast.target),
                achieved_text=goal_amount_text(goal, forecast.achieved),
                target_text=goal_amount_text(goal, forecast.target),
                projected_text="" if projected is None else goal_amount_text(goal, projected),
                trend_words=str(TREND_WORDS.get(forecast.trend, forecast.trend)),
                chart_svg=mark_safe(chart.svg),  # noqa: S308 (escaped by goals.charts)
            )
        )
    return rows, goals.count()


@dataclass
class Studio:
    state: LoopState
    theme: Theme | None
    ideas_this_week: int = 0  # up to IDEAS_COUNT_CAP + 1 (then shown as "1,000+")
    best_new_ideas: list[Idea] = field(default_factory=list)
    tokens_today: int = 0
    token_budget: int | None = None
    tokens_granted: int = 0

    @property
    def ideas_this_week_over_cap(self) -> bool:
        return self.ideas_this_week > IDEAS_COUNT_CAP

    @property
    def ideas_count_cap(self) -> str:
        return f"{IDEAS_COUNT_CAP:,}"

    @property
    def budget_total(self) -> int | None:
        return None if self.token_budget is None else self.token_budget + self.tokens_granted

    @property
    def budget_percent(self) -> int:
        total = self.budget_total
        return _percent(self.tokens_today, total) if total else 0


def home_studio(*, now: dt.datetime | None = None) -> Studio:
    """The loop's state, this week's ideas (count and best few) and today's token spend
    against the active theme's daily budget (the charts load on their own:
    ``goals.charts_studio``)."""
    now = now or timezone.now()
    studio = Studio(state=loop_state_get(), theme=theme_active())
    theme = studio.theme
    if theme is None:
        return studio
    since = now - dt.timedelta(days=7)
    visible = Idea.objects.filter(theme=theme, status__in=Idea.VISIBLE_STATUSES)
    week = visible.filter(created_at__gte=since)
    # Counting 100,000 rows costs ~200 ms on SQLite: count up to the cap, say "1,000+".
    studio.ideas_this_week = week.values("pk")[: IDEAS_COUNT_CAP + 1].count()
    if studio.ideas_this_week <= IDEAS_COUNT_CAP:
        # Few this week: the (theme, -created_at) index finds them, sorting them is cheap.
        best = week
    else:
        # Many this week: walk the theme's ideas best first (ideas_idea_priority_order)
        # until five are this week's. The date goes through Coalesce so the planner
        # cannot take the created_at index instead and sort the whole week by priority.
        best = visible.alias(created=Coalesce("created_at", "created_at")).filter(
            created__gte=since
        )
    studio.best_new_ideas = list(best.order_by("-priority", "-id")[:SECTION_ROWS])
    studio.tokens_today = tokens_used_today(theme=theme, now=now)
    studio.tokens_granted = tokens_granted_today(theme=theme, now=now)
    studio.token_budget = theme.daily_token_budget
    return studio


@dataclass(frozen=True)
class WorkflowsToday:
    runs_today: int
    by_status: dict[str, int]
    failures: list[Run]


def home_workflows(*, now: dt.datetime | None = None) -> WorkflowsToday:
    """Runs started today by status, and the last day's failures to look at."""
    now = now or timezone.now()
    midnight = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    by_status = dict(
        Run.objects.filter(created_at__gte=midnight, is_test=False)
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    failures = list(
        Run.objects.filter(
            status=Run.Status.FAILED, created_at__gte=now - dt.timedelta(days=1), is_test=False
        )
        .select_related("workflow")
        .order_by("-created_at", "-id")[:SECTION_ROWS]
    )
    return WorkflowsToday(
        runs_today=sum(by_status.values()), by_status=by_status, failures=failures
    )


def home_system() -> dict[str, Any]:
    """The internals a superuser looks after: django-q2, the Sheets outbox, people."""
    sheet_rows = dict(SheetRow.objects.values_list("status").annotate(n=Count("id")))
    return {
        "queued_tasks": OrmQ.objects.count(),
        "schedules": list(Schedule.objects.order_by("next_run", "id")[:SECTION_ROWS]),
        "schedules_count": Schedule.objects.count(),
        "sheet_pending": sheet_rows.get(SheetRow.Status.PENDING, 0),
        "sheet_failed": sheet_rows.get(SheetRow.Status.FAILED, 0),
        "users": User.objects.count(),
        "groups": Group.objects.count(),
    }
