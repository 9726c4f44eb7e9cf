"""The critic's persist written out (``ideas.services.scores``): its locked read gives
what the ORM form it replaced gave, on the same rows, and its change rows are what
``bulk_create`` stored. Run on SQLite and on PostgreSQL (``DATABASE_URL=postgres://...``)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from ideas.models import Idea, IdeaChange
from ideas.services import ideas_scores_set
from ideas.services.scores import _SCORED_READ, _scored_locked
from tests.ideas.factories import IdeaFactory, ThemeFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

WHEN = dt.datetime(2026, 4, 5, 6, 7, 8, 901_234, tzinfo=dt.UTC)


def _loaded(idea: Idea) -> dict:
    deferred = idea.get_deferred_fields()
    return {
        f.attname: getattr(idea, f.attname)
        for f in Idea._meta.concrete_fields
        if f.attname not in deferred
    }


def test_the_locked_read_is_the_orm_forms_rows_columns_and_lock():
    theme = ThemeFactory()
    ideas = [
        IdeaFactory(theme=theme, brand_fit=7.25, human_novelty=1.5, reviewed_at=WHEN),
        IdeaFactory(theme=theme, status=Idea.Status.ARCHIVED, updated_by_iteration_id=4),
        IdeaFactory(theme=theme, title="茶 | cup"),
    ]
    IdeaFactory(theme=theme)  # not asked for: stays out
    pks = sorted(idea.pk for idea in ideas)
    with transaction.atomic(), CaptureQueriesContext(connection) as ours:
        found = _scored_locked(pks)
    with transaction.atomic(), CaptureQueriesContext(connection) as orm:
        expected = list(
            Idea.objects.select_for_update().filter(pk__in=pks).only(*_SCORED_READ).order_by("pk")
        )
    assert list(found) == [idea.pk for idea in expected] == pks
    assert [_loaded(idea) for idea in found.values()] == [_loaded(idea) for idea in expected]
    assert [idea.get_deferred_fields() for idea in found.values()] == [
        idea.get_deferred_fields() for idea in expected
    ]
    assert found[pks[0]].reviewed_at == WHEN and found[pks[0]].human_novelty == 1.5
    assert all(idea._state.adding is False for idea in found.values())
    (our_sql,) = [q["sql"] for q in ours.captured_queries if q["sql"].startswith("SELECT")]
    (orm_sql,) = [q["sql"] for q in orm.captured_queries if q["sql"].startswith("SELECT")]
    assert our_sql.endswith(" FOR UPDATE") == orm_sql.endswith(" FOR UPDATE")
    assert _scored_locked([]) == {}


def test_the_scores_change_rows_are_what_bulk_create_stored():
    theme = ThemeFactory()
    ours, orms = IdeaFactory(theme=theme, novelty=2.0), IdeaFactory(theme=theme, novelty=2.0)
    with time_machine.travel(WHEN, tick=False):
        ideas_scores_set(scores={ours: {"novelty": 8.5, "brand_fit": 3}}, iteration_id=5)
        IdeaChange.objects.bulk_create(  # the ORM form, for the same changes
            [
                IdeaChange(idea=orms, field="novelty", old=2.0, new=8.5, iteration_id=5),
                IdeaChange(idea=orms, field="brand_fit", old=None, new=3.0, iteration_id=5),
            ]
        )
    columns = ("field", "old", "new", "iteration_id", "actor_id", "reason", "at")
    stored = [
        list(IdeaChange.objects.filter(idea=idea).order_by("pk").values(*columns))
        for idea in (ours, orms)
    ]
    assert stored[0] == stored[1]
    assert stored[0][0]["at"] == WHEN


def test_a_missing_idea_fails_the_callers_transaction_with_nothing_written():
    theme = ThemeFactory()
    idea = IdeaFactory(theme=theme, novelty=2.0)
    gone = IdeaFactory(theme=theme)
    Idea.objects.filter(pk=gone.pk).delete()
    with pytest.raises(Idea.DoesNotExist), transaction.atomic():
        ideas_scores_set(scores={idea: {"novelty": 9}, gone: {"novelty": 1}}, iteration_id=5)
    assert Idea.objects.get(pk=idea.pk).novelty == 2.0
    assert not IdeaChange.objects.filter(idea=idea).exists()
