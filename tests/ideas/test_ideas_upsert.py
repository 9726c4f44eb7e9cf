"""ideas_upsert and ideas_scores_set: the batch writers the loop's persisters use.

Each does what the one-idea service does, for every idea of the batch, at a number of
queries that does not grow with the batch.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from decisions.models import AuditEvent, SheetRow
from ideas.models import Idea, IdeaChange, IdeaRefusal
from ideas.services import (
    IdeaDataInvalid,
    IdeaRefused,
    idea_upsert,
    ideas_scores_set,
    ideas_upsert,
)
from ideas.services.scores import ROW_UPDATES_MAX
from tests.concurrency import run_together
from tests.ideas.factories import IdeaFactory, ThemeFactory

pytestmark = pytest.mark.django_db


def _proposal(n: int, **extra) -> dict:
    return {
        "title": f"Moon mug no. {n}",
        "summary": f"A moon-viewing mug, variant {n}.",
        "target_audience": "Office workers who drink tea at night",
        "value_proposition": "A calm ritual after work",
        "revenue_model": "¥2,800 per set",
        "tags": ["mug", f"variant-{n}"],
        **extra,
    }


def test_it_creates_each_idea_as_idea_upsert_would(theme):
    old = IdeaFactory(theme=theme, title="Dango coaster")
    results = ideas_upsert(
        theme=theme, proposals=[_proposal(1, related_ids=[old.pk]), _proposal(2)], iteration_id=5
    )
    assert [r.created for r in results] == [True, True]
    first, second = (r.idea for r in results)
    assert first.tag_names == ["mug", "variant-1"]
    assert list(first.related.values_list("pk", flat=True)) == [old.pk]
    assert list(old.related.values_list("pk", flat=True)) == [first.pk]  # both ways
    assert sorted(first.changes.values_list("field", flat=True)) == ["created", "related", "tags"]
    assert sorted(second.changes.values_list("field", flat=True)) == ["created", "tags"]
    events = AuditEvent.objects.filter(action="ideas.idea_created")
    assert sorted(events.values_list("subject_id", flat=True)) == sorted(
        [str(first.pk), str(second.pk)]
    )
    # Every audit event has its Sheets outbox row, keyed by the event's uuid.
    assert set(SheetRow.objects.values_list("uuid", flat=True)) >= set(
        events.values_list("uuid", flat=True)
    )


def test_a_known_idea_and_a_repeat_within_the_batch_are_found_not_doubled(theme):
    idea_upsert(theme=theme, data=_proposal(1), iteration_id=1)
    results = ideas_upsert(
        theme=theme,
        proposals=[_proposal(1), _proposal(2), {**_proposal(2), "title": "MOON mug no. 2!"}],
        iteration_id=2,
    )
    assert [r.created for r in results] == [False, True, False]
    assert results[1].idea.pk == results[2].idea.pk
    assert Idea.objects.filter(theme=theme).count() == 2


def test_refused_and_invalid_proposals_are_reported_and_the_rest_written(theme):
    results = ideas_upsert(
        theme=theme,
        proposals=[{"title": "Counterfeit plush resale"}, {"title": ""}, _proposal(3)],
        iteration_id=4,
    )
    assert isinstance(results[0].error, IdeaRefused)
    assert isinstance(results[1].error, IdeaDataInvalid)
    assert results[2].created
    assert IdeaRefusal.objects.count() == 1
    assert Idea.objects.filter(theme=theme).count() == 1


def test_the_batch_costs_the_same_queries_for_two_ideas_and_five(theme):
    counts = []
    for start, size in ((10, 2), (20, 5)):
        proposals = [_proposal(start + n) for n in range(size)]
        with CaptureQueriesContext(connection) as seen:
            ideas_upsert(theme=theme, proposals=proposals, iteration_id=1)
        counts.append(len(seen))
    assert counts[0] == counts[1]


def test_scores_of_several_ideas_cost_one_update_more_each_then_a_fixed_number(theme):
    """A review's few ideas: one plain UPDATE each (cheaper than Django's bulk update's
    CASE per column and idea); past ``ROW_UPDATES_MAX`` one bulk update whatever the
    count."""
    ideas = IdeaFactory.create_batch(4, theme=theme)
    with CaptureQueriesContext(connection) as one:
        ideas_scores_set(scores={ideas[0]: {"brand_fit": 7}}, iteration_id=1)
    with CaptureQueriesContext(connection) as three:
        changed = ideas_scores_set(
            scores={idea: {"brand_fit": 8, "novelty": 3} for idea in ideas[1:]}, iteration_id=2
        )
    assert len(three) == len(one) + 2
    assert changed == {idea.pk: ["brand_fit", "novelty"] for idea in ideas[1:]}
    for idea in ideas[1:]:
        stored = Idea.objects.get(pk=idea.pk)
        assert (stored.brand_fit, stored.novelty, stored.priority) == (8.0, 3.0, idea.priority)
        assert stored.updated_by_iteration_id == 2
    assert IdeaChange.objects.filter(iteration_id=2).count() == 6
    assert AuditEvent.objects.filter(action="ideas.idea_scored").count() == 4
    many = IdeaFactory.create_batch(2 * ROW_UPDATES_MAX + 3, theme=theme)
    with CaptureQueriesContext(connection) as past:
        ideas_scores_set(
            scores={i: {"brand_fit": 5} for i in many[: ROW_UPDATES_MAX + 1]}, iteration_id=3
        )
    with CaptureQueriesContext(connection) as further:
        changed = ideas_scores_set(
            scores={i: {"brand_fit": 5} for i in many[ROW_UPDATES_MAX + 1 :]}, iteration_id=4
        )
    assert len(past) == len(further)
    assert all(Idea.objects.get(pk=i.pk).brand_fit == 5.0 for i in many)


def test_unchanged_scores_write_nothing(theme):
    idea = IdeaFactory(theme=theme, brand_fit=6.0)
    assert ideas_scores_set(scores={idea: {"brand_fit": 6}}, iteration_id=1) == {idea.pk: []}
    assert not AuditEvent.objects.filter(action="ideas.idea_scored").exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_concurrent_batches_of_the_same_answer_make_each_idea_once():
    theme = ThemeFactory()
    proposals = [_proposal(n) for n in range(3)]
    results, errors = run_together(
        lambda i: ideas_upsert(theme=theme, proposals=proposals, iteration_id=1), 3
    )
    assert not errors, errors
    assert Idea.objects.filter(theme=theme).count() == 3
    assert sum(r.created for batch in results for r in batch) == 3
    assert IdeaChange.objects.filter(field="created").count() == 3
