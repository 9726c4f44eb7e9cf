"""The ideator's persist written out (``ideas.services.portfolio.ideas_upsert``): the
fingerprints' read gives what the ORM form gave, and the new ideas, their tag links and
change rows are stored as ``bulk_create`` stored them. Run on SQLite and on PostgreSQL
(``DATABASE_URL=postgres://...``)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from ideas.models import Idea, IdeaChange
from ideas.services import ideas_upsert
from ideas.services.portfolio import _fingerprints_taken, _idea_build, idea_fingerprint
from tests.ideas.factories import IdeaFactory, ThemeFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

WHEN = dt.datetime(2026, 4, 5, 6, 7, 8, 901_234, tzinfo=dt.UTC)


def test_the_fingerprints_read_is_the_orm_forms():
    theme, other = ThemeFactory(), ThemeFactory(status="archived")
    ours = [IdeaFactory(theme=theme, title=t) for t in ("Mug", "茶 cup", "Lamp")]
    IdeaFactory(theme=theme, title="Archived one", status=Idea.Status.ARCHIVED)
    IdeaFactory(theme=other, title="Sock")  # another theme's idea stays out
    asked = sorted({idea_fingerprint(t) for t in ("mug", "茶 cup", "Sock", "Archived one", "new")})
    expected = set(
        Idea.objects.filter(theme=theme, fingerprint__in=asked).values_list(
            "fingerprint", flat=True
        )
    )
    assert _fingerprints_taken(theme_id=theme.pk, fingerprints=asked) == expected
    assert len(expected) == 3 and ours[2].fingerprint not in expected
    assert _fingerprints_taken(theme_id=theme.pk, fingerprints=[]) == set()


def _stored(idea: Idea) -> dict:
    row = Idea.objects.filter(pk=idea.pk).values().get()
    for key in ("id", "theme_id", "title", "fingerprint"):
        row.pop(key)
    return row


def test_new_ideas_their_links_and_change_rows_are_stored_as_bulk_create_stored_them():
    theme, twin = ThemeFactory(), ThemeFactory(status="archived")
    data = {
        "title": "Tea | mug",
        "summary": "要約",
        "revenue_model": "Sales",
        "tags": ["Cup", "tea"],
        "scores": {"brand_fit": 7.5, "novelty": 2},
    }
    with time_machine.travel(WHEN, tick=False):
        (result,) = ideas_upsert(theme=theme, proposals=[data], iteration_id=11)
        # The ORM form, on the twin theme: bulk_create of the same built idea and rows.
        orm = _idea_build(twin, {**data, "scores": data["scores"]}, "f" * 64, 11)
        Idea.objects.bulk_create([orm])
        tags = [twin.tags.create(name=n) for n in ("cup", "tea")]
        Idea.tags.through.objects.bulk_create(
            [Idea.tags.through(idea_id=orm.pk, tag_id=tag.pk) for tag in tags]
        )
        IdeaChange.objects.bulk_create(
            [
                IdeaChange(idea=orm, field="created", old=None, new=orm.title, iteration_id=11),
                IdeaChange(idea=orm, field="tags", old=[], new=["cup", "tea"], iteration_id=11),
            ]
        )
    ours = result.idea
    assert result.created and ours.pk and ours._state.adding is False
    assert _stored(ours) == _stored(orm)
    assert _stored(ours)["created_at"] == WHEN
    assert sorted(ours.tags.values_list("name", flat=True)) == ["cup", "tea"]
    columns = ("field", "old", "new", "iteration_id", "actor_id", "reason", "at")
    assert list(IdeaChange.objects.filter(idea=ours).order_by("pk").values(*columns)) == list(
        IdeaChange.objects.filter(idea=orm).order_by("pk").values(*columns)
    )
