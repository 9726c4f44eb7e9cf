"""What the chart tests put in the database: ideas on given days with scores, a day's
iterations, and decisions answered after a given number of hours."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from decisions.models import Decision
from goals.models import Iteration
from ideas.models import Idea, Theme
from tests.goals.home_setup import decision_pending
from tests.ideas.factories import IdeaFactory


def noon(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(12)))


def ideas_on(day: dt.date, *, theme: Theme, scores: list[float], **extra) -> list[Idea]:
    """One idea per score, created at noon on ``day``, all three scores equal to it."""
    ideas = [
        IdeaFactory(theme=theme, brand_fit=s, novelty=s, feasibility=s, **extra) for s in scores
    ]
    # created_at is auto_now_add: the past is written afterwards.
    Idea.objects.filter(pk__in=[i.pk for i in ideas]).update(created_at=noon(day))
    return ideas


def tokens_on(day: dt.date, *, theme: Theme, tokens: list[int]) -> None:
    """One iteration per entry of ``tokens`` (split into prompt and completion) on ``day``."""
    for n, total in enumerate(tokens):
        Iteration.objects.create(
            theme=theme,
            number=n + 1,
            role="ideator",
            mode="explore",
            outcome="ok",
            started_at=noon(day),
            finished_at=noon(day),
            prompt_tokens=total // 2,
            completion_tokens=total - total // 2,
        )


def decided_after(hours: float, *, on: dt.date, by, title: str) -> Decision:
    """A decision ``by`` answered at noon on ``on``, asked ``hours`` before."""
    decision = decision_pending(title=title)
    decided_at = noon(on)
    Decision.objects.filter(pk=decision.pk).update(
        status=Decision.Status.APPROVED,
        decided_by=by,
        decided_at=decided_at,
        requested_at=decided_at - dt.timedelta(hours=hours),
    )
    return decision
