"""``goals.services.work``'s written-out reads: a task's visible ideas as
``task.ideas.filter(status__in=VISIBLE).order_by("pk")`` read them, and the scatter's
sample as the ORM read it. Run on SQLite and on PostgreSQL (``DATABASE_URL=...``)."""

from __future__ import annotations

import pytest

from goals.services.work import (
    SCATTER_SAMPLE,
    focus_ideas_pick,
    scatter_measure,
    task_ideas_visible,
)
from ideas.models import Idea
from ideas.stats import diversity
from tests.goals.factories import IdeaFactory, TaskFactory, ThemeFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

STATUSES = [*Idea.VISIBLE_STATUSES, Idea.Status.ARCHIVED, Idea.Status.REFUSED]


def _row(idea: Idea) -> dict:
    return {field.attname: getattr(idea, field.attname) for field in Idea._meta.concrete_fields}


def test_a_tasks_visible_ideas_are_the_orm_rows_by_key(theme):
    ideas = [
        IdeaFactory(theme=theme, title=f"Idea {i} 茶", status=STATUSES[i % len(STATUSES)])
        for i in range(12)
    ]
    task = TaskFactory(theme=theme, kind="refine")
    other = TaskFactory(theme=theme, kind="critique")
    task.ideas.add(*reversed(ideas[:9]))  # linked out of key order, some hidden
    other.ideas.add(*ideas[6:])
    expected = list(task.ideas.filter(status__in=Idea.VISIBLE_STATUSES).order_by("pk"))
    found = task_ideas_visible(task=task)
    assert len(found) >= 2
    assert [_row(idea) for idea in found] == [_row(idea) for idea in expected]
    assert [_row(i) for i in focus_ideas_pick(theme=theme, task=task, mode="explore")] == [
        _row(i) for i in expected
    ]
    assert task_ideas_visible(task=TaskFactory(theme=theme)) == []


def test_the_scatter_is_the_diversity_of_the_orm_sample(theme):
    for i in range(2 * SCATTER_SAMPLE):
        IdeaFactory(
            theme=theme,
            title=f"Idea {i} " + " ".join(f"w{i * k % 17}" for k in range(5)),
            status=STATUSES[i % len(STATUSES)],
        )
    IdeaFactory(theme=ThemeFactory(status="archived"), title="Elsewhere entirely")
    sample = [
        f"{title}. {summary}"
        for title, summary in Idea.objects.filter(theme=theme, status__in=Idea.VISIBLE_STATUSES)
        .order_by("-pk")
        .values_list("title", "summary")[:SCATTER_SAMPLE]
    ]
    assert len(sample) == SCATTER_SAMPLE
    assert scatter_measure(theme=theme) == diversity(sample)
