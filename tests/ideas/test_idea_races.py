"""Real concurrency: two workers deliver the same answer at once.

Runs on SQLite in the main pass and again on PostgreSQL (``-m postgres``), where the
rows are really locked and inserted concurrently.
"""

from __future__ import annotations

import itertools

import pytest

from ideas.models import Idea, IdeaChange, PortfolioCounters, Tag
from ideas.selectors import portfolio_counts_scan
from ideas.services import idea_mark_reviewed, idea_update, idea_upsert, ideas_scores_set
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


def test_concurrent_edits_and_scorings_of_one_idea_lose_nothing():
    """The edit's and the scoring's written-out locked reads serialise the writers: each
    edit's tag and each score lands, every change row's ``old`` is what the previous
    writer left, and the counters end as a recount makes them."""
    theme = ThemeFactory()
    idea = IdeaFactory(theme=theme)  # no novelty yet: every scoring changes it

    def worker(i: int):
        mine = Idea.objects.get(pk=idea.pk)
        if i % 2:
            return ideas_scores_set(scores={mine: {"novelty": float(i)}}, iteration_id=i)
        return idea_update(idea=mine, changes={"summary": f"edit {i}"}, iteration_id=i)

    _together(worker, 6)
    novelty = list(
        IdeaChange.objects.filter(idea=idea, field="novelty").order_by("pk").values("old", "new")
    )
    summaries = list(
        IdeaChange.objects.filter(idea=idea, field="summary").order_by("pk").values("old", "new")
    )
    assert len(novelty) == 3 and len(summaries) == 3
    # A chain: each writer saw what the one before it wrote (no lost update).
    assert all(a["new"] == b["old"] for a, b in itertools.pairwise(novelty))
    assert all(a["new"] == b["old"] for a, b in itertools.pairwise(summaries))
    row = Idea.objects.get(pk=idea.pk)
    assert (row.novelty, row.summary) == (novelty[-1]["new"], summaries[-1]["new"])
    counters = PortfolioCounters.objects.filter(theme=theme).values().get()
    scan = portfolio_counts_scan(theme_id=theme.pk)
    assert {k: counters[k] for k in scan} == pytest.approx(scan)
    assert Tag.objects.filter(theme=theme).count() == 0
