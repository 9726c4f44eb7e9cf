"""Everything the goal page reads, one query per section (read only, no N+1).

``goal_page`` returns plain rows; the admin turns them into business words. The number of
queries does not grow with the goal's runs, decisions, reports or revisions: each section
is one query, and the monitoring figures are computed from rows already read (the
forecast and daily values come from ``goals.selectors_progress``, the one place they are
computed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.db.models import Count, Q

from decisions.models import AuditEvent, Decision
from goals.forecast import Forecast
from goals.models import CatalogueItem, Goal, GoalReport, GoalRun, PlanRevision
from goals.selectors_monitoring import (
    AdjustmentEffect,
    _median,
    _ratio,
    goal_adjustment_effects,
)
from goals.selectors_progress import goal_forecast

#: Rows shown per section; older ones stay in their own admin lists.
SECTION_LIMIT = 200


@dataclass(frozen=True)
class GoalFigures:
    """The design's monitoring figures, for this goal (and the achievement rate overall)."""

    goals_closed: int
    goals_achieved: int
    achievement_rate: Decimal | None
    started_at: datetime | None
    closed_at: datetime | None
    decisions_asked: int
    decisions_decided: int
    decision_time_median: timedelta | None
    revisions_approved: int
    revisions_automatic: int
    auto_execution_rate: Decimal | None
    adjustments: tuple[AdjustmentEffect, ...]

    @property
    def execution_time(self) -> timedelta | None:
        if self.started_at is None or self.closed_at is None:
            return None
        return self.closed_at - self.started_at


@dataclass(frozen=True)
class GoalPage:
    goal: Goal
    today: date
    revisions: list[PlanRevision]
    current: PlanRevision | None
    waiting: PlanRevision | None
    catalogue_titles: dict[str, str]
    forecast: Forecast
    daily: list[tuple[date, int]]
    runs: list[GoalRun]
    decisions: list[Decision]
    reports: list[GoalReport]
    figures: GoalFigures


def goal_decisions_filter(*, goal: Goal, revisions: list[PlanRevision] | None = None) -> Q:
    """Decisions about a goal: asked with the goal as subject, or on one of its revisions.

    ``revisions`` already read spare a subquery; without them the revisions' decisions
    are selected in the same query.
    """
    on_goal = Q(subject_type=ContentType.objects.get_for_model(Goal), subject_id=str(goal.pk))
    if revisions is None:
        asked = PlanRevision.objects.filter(goal=goal, decision_id__isnull=False)
        return on_goal | Q(pk__in=asked.values("decision_id"))
    ids = [r.decision_id for r in revisions if r.decision_id is not None]
    return on_goal | Q(pk__in=ids) if ids else on_goal


def _adjustments(
    goal: Goal, revisions: list[PlanRevision], daily: list[tuple[date, int]], today: date
) -> tuple[AdjustmentEffect, ...]:
    """Approved adjustments with their effect, from rows already read."""
    return tuple(
        goal_adjustment_effects(goal=goal, revisions=revisions, daily=dict(daily), today=today)
    )


def _figures(
    goal: Goal,
    revisions: list[PlanRevision],
    decisions: list[Decision],
    daily: list[tuple[date, int]],
    today: date,
) -> GoalFigures:
    counts = dict(
        Goal.objects.filter(status__in=(Goal.Status.ACHIEVED, Goal.Status.MISSED))
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    achieved = counts.get(Goal.Status.ACHIEVED, 0)
    closed = achieved + counts.get(Goal.Status.MISSED, 0)
    closed_at = None
    if goal.status in (Goal.Status.ACHIEVED, Goal.Status.MISSED):
        closed_at = (
            AuditEvent.objects.for_subject(goal)
            .filter(action="goals.goal_closed")
            .order_by("created_at")
            .values_list("created_at", flat=True)
            .first()
        )
    approved = [r for r in revisions if r.approved_at is not None]
    automatic = [r for r in approved if r.approved_by_id is None]
    waits = [d.decided_at - d.requested_at for d in decisions if d.decided_at is not None]
    return GoalFigures(
        goals_closed=closed,
        goals_achieved=achieved,
        achievement_rate=_ratio(achieved, closed),
        started_at=min((r.approved_at for r in approved if r.approved_at), default=None),
        closed_at=closed_at,
        decisions_asked=len(decisions),
        decisions_decided=len(waits),
        decision_time_median=_median(waits),
        revisions_approved=len(approved),
        revisions_automatic=len(automatic),
        auto_execution_rate=_ratio(len(automatic), len(approved)),
        adjustments=_adjustments(goal, revisions, daily, today),
    )


def goal_page(*, goal: Goal, today: date) -> GoalPage:
    """Every section of the goal page for ``goal`` as of ``today``."""
    revisions = list(goal.revisions.select_related("approved_by").order_by("number"))
    approved = [r for r in revisions if r.approved_at is not None]
    current = approved[-1] if approved else None
    waiting = next(
        (
            r
            for r in reversed(revisions)
            if r.approved_at is None and (current is None or r.number > current.number)
        ),
        None,
    )
    keys = {
        str(action.get("catalogue") or action.get("workflow"))
        for r in revisions
        for action in r.document.get("actions", [])
    }
    titles = dict(CatalogueItem.objects.filter(key__in=keys).values_list("key", "title"))
    forecast, daily = goal_forecast(goal=goal, today=today)
    runs = list(
        GoalRun.objects.filter(goal=goal).order_by("-day", "action", "-attempt")[:SECTION_LIMIT]
    )
    decisions = list(
        Decision.objects.filter(goal_decisions_filter(goal=goal, revisions=revisions)).order_by(
            "-requested_at", "-pk"
        )[:SECTION_LIMIT]
    )
    reports = list(
        GoalReport.objects.filter(goal=goal).order_by("-period_end", "kind")[:SECTION_LIMIT]
    )
    return GoalPage(
        goal=goal,
        today=today,
        revisions=revisions,
        current=current,
        waiting=waiting,
        catalogue_titles=titles,
        forecast=forecast,
        daily=daily,
        runs=runs,
        decisions=decisions,
        reports=reports,
        figures=_figures(goal, revisions, decisions, daily, today),
    )
