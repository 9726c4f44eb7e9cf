"""The design's monitoring figures for goals, computed from the rows (read only).

* achievement rate: achieved / closed (achieved + missed; cancelled goals were not
  judged);
* execution time: from a goal's start (its first approved plan) to its close (the
  ``goals.goal_closed`` audit event), the median over closed goals;
* decisions asked per goal, and decision time (asked → decided, median) of the
  decisions about goals;
* auto-execution rate: approved revisions no person approved / all approved revisions;
* adjustments: each automatic or approved adjustment with the run rate it was made at
  and the run rate of the days after it (until the next one or today): its effect.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.contrib.contenttypes.models import ContentType
from django.db.models import Count

from decisions.models import AuditEvent, Decision
from goals.models import Goal, PlanRevision
from goals.selectors_progress import goal_readings


@dataclass(frozen=True)
class AdjustmentEffect:
    goal_id: int
    revision: int
    day: date
    change: Decimal
    automatic: bool
    run_rate_before: Decimal | None
    run_rate_after: Decimal | None


@dataclass(frozen=True)
class GoalMonitoring:
    goals_closed: int
    goals_achieved: int
    achievement_rate: Decimal | None
    execution_time_median: timedelta | None
    decisions_asked: int
    decisions_per_goal: Decimal | None
    decision_time_median: timedelta | None
    revisions_approved: int
    auto_execution_rate: Decimal | None
    adjustments: tuple[AdjustmentEffect, ...]


def _ratio(part: int, whole: int) -> Decimal | None:
    return (Decimal(part) / whole).quantize(Decimal("0.001"), ROUND_HALF_UP) if whole else None


def _median(values: list[timedelta]) -> timedelta | None:
    """The median duration (``statistics.median`` is typed for numbers only)."""
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def _run_rate(daily: dict[date, int], start: date, end: date) -> Decimal | None:
    """Mean per day over ``start``..``end - 1`` (a day without a reading is 0)."""
    days = (end - start).days
    if days <= 0:
        return None
    total = sum(daily.get(start + timedelta(n), 0) for n in range(days))
    return (Decimal(total) / days).quantize(Decimal("0.01"), ROUND_HALF_UP)


def goal_adjustment_effects(
    *, goal: Goal, revisions: Iterable[PlanRevision], daily: dict[date, int], today: date
) -> list[AdjustmentEffect]:
    """A goal's approved adjustments (among ``revisions``, in number order) with the run
    rate each was made at and the run rate on the days after it, from rows already read."""
    made = [
        r
        for r in revisions
        if r.reason == PlanRevision.Reason.ADJUSTMENT
        and r.approved_at is not None
        and isinstance(r.document.get("adjustment"), dict)
    ]
    days = [date.fromisoformat(r.document["adjustment"]["day"]) for r in made]
    effects = []
    for n, revision in enumerate(made):
        facts = revision.document["adjustment"]
        after_end = days[n + 1] if n + 1 < len(days) else min(today, goal.period_end)
        before = facts.get("run_rate")
        effects.append(
            AdjustmentEffect(
                goal_id=goal.pk,
                revision=revision.number,
                day=days[n],
                change=Decimal(str(facts.get("cumulative_change", "0"))),
                automatic=revision.approved_by_id is None,
                run_rate_before=None if before is None else Decimal(before),
                run_rate_after=_run_rate(daily, days[n], after_end),
            )
        )
    return effects


def adjustment_effects(*, today: date) -> list[AdjustmentEffect]:
    """Each approved adjustment with the run rate before it and on the days after it."""
    effects: list[AdjustmentEffect] = []
    revisions = (
        PlanRevision.objects.filter(
            reason=PlanRevision.Reason.ADJUSTMENT, approved_at__isnull=False
        )
        .select_related("goal")
        .order_by("goal_id", "number")
    )
    by_goal: dict[int, list[PlanRevision]] = {}
    for revision in revisions:
        by_goal.setdefault(revision.goal_id, []).append(revision)
    for goal_revisions in by_goal.values():
        goal = goal_revisions[0].goal
        daily = dict(goal_readings(goal=goal, today=today))
        effects.extend(
            goal_adjustment_effects(goal=goal, revisions=goal_revisions, daily=daily, today=today)
        )
    return effects


def goal_monitoring(*, today: date) -> GoalMonitoring:
    """Every figure of the module docstring, over all goals."""
    counts = dict(
        Goal.objects.filter(status__in=(Goal.Status.ACHIEVED, Goal.Status.MISSED))
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    achieved = counts.get(Goal.Status.ACHIEVED, 0)
    closed = achieved + counts.get(Goal.Status.MISSED, 0)

    goal_type = ContentType.objects.get_for_model(Goal)
    closes = {
        int(subject_id): at
        for subject_id, at in AuditEvent.objects.filter(
            action="goals.goal_closed", subject_type=goal_type
        ).values_list("subject_id", "created_at")
    }
    starts: dict[int, datetime] = {}
    for goal_id, at in (
        PlanRevision.objects.filter(goal_id__in=closes, approved_at__isnull=False)
        .order_by("number")
        .values_list("goal_id", "approved_at")
    ):
        if at is not None:
            starts.setdefault(goal_id, at)
    durations = [closes[g] - starts[g] for g in closes if g in starts]

    decisions = Decision.objects.filter(subject_type=goal_type)
    asked = decisions.count()
    goals_asked_about = Goal.objects.exclude(status=Goal.Status.DRAFT).count()
    waits = [
        decided - requested
        for requested, decided in decisions.filter(decided_at__isnull=False).values_list(
            "requested_at", "decided_at"
        )
        if decided is not None
    ]

    approved = PlanRevision.objects.filter(approved_at__isnull=False)
    total = approved.count()
    automatic = approved.filter(approved_by__isnull=True).count()
    return GoalMonitoring(
        goals_closed=closed,
        goals_achieved=achieved,
        achievement_rate=_ratio(achieved, closed),
        execution_time_median=_median(durations),
        decisions_asked=asked,
        decisions_per_goal=_ratio(asked, goals_asked_about),
        decision_time_median=_median(waits),
        revisions_approved=total,
        auto_execution_rate=_ratio(automatic, total),
        adjustments=tuple(adjustment_effects(today=today)),
    )
