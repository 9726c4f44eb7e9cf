"""Real concurrency: two workers deliver the same answer at once.

Runs on SQLite in the main pass and again on PostgreSQL (``-m postgres``), where the
rows are really locked and inserted concurrently.
"""

from __future__ import annotations

import pytest

from ideas.models import Idea, IdeaChange
from ideas.services import idea_mark_reviewed, idea_upsert
from tests.concurrency import run_together
from tests.ideas.factories import IdeaFactory, ThemeFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


def _together(worker, n: int = 4) -> list:
    results, errors = run_together(worker, n)
    assert not errors, errors
    return results


def test_concurrent_deliveries_of_one_idea_make_one_row():
    theme = ThemeFactory()
    data = {"title": "Tsukimi mug set", "summary": "A moon mug", "tags": ["mug", "seasonal"]}
    results = _together(lambda i: idea_upsert(theme=theme, data=data, iteration_id=1))
    assert Idea.objects.filter(theme=theme).count() == 1
    assert sum(created for _, created in results) == 1
    assert IdeaChange.objects.filter(field="created").count() == 1


def test_concurrent_reviews_change_each_idea_once(alice):
    theme = ThemeFactory()
    user = alice
    ideas = IdeaFactory.create_batch(3, theme=theme)
    ids = [i.pk for i in ideas]
    counts = _together(lambda i: idea_mark_reviewed(idea_ids=ids, user=user))
    assert sum(counts) == 3
    assert IdeaChange.objects.filter(field="status").count() == 3
    assert Idea.objects.filter(status=Idea.Status.REVIEWED).count() == 3
