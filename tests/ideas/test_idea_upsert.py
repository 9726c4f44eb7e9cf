"""idea_upsert: create, dedupe repeated deliveries, log field-level changes, refuse."""

from __future__ import annotations

import contextlib

import pytest
from django.db import transaction

from ideas.models import Idea, IdeaChange, IdeaRefusal
from ideas.services import IdeaDataInvalid, IdeaRefused, idea_upsert
from tests.ideas.factories import IdeaFactory, ThemeFactory

pytestmark = pytest.mark.django_db

MUG = {
    "title": "Tsukimi mug set",
    "summary": "A moon-viewing mug with a dango lid.",
    "target_audience": "Office workers who drink tea at night",
    "value_proposition": "A calm ritual after work",
    "revenue_model": "¥2,800 per set on BASE",
    "tags": ["Seasonal", "mug"],
}


def test_it_creates_an_idea_with_tags_and_a_created_row(theme, audit_calls):
    idea, created = idea_upsert(theme=theme, data=MUG, iteration_id=7)
    assert created
    assert idea.created_by_iteration_id == 7
    assert idea.tag_names == ["mug", "seasonal"]
    assert idea.status == Idea.Status.CANDIDATE
    assert list(idea.changes.values_list("field", flat=True).order_by("pk")) == ["created", "tags"]
    assert [c["action"] for c in audit_calls] == ["ideas.idea_created"]


def test_a_repeated_delivery_creates_no_duplicate_and_no_change(theme, audit_calls):
    first, _ = idea_upsert(theme=theme, data=MUG, iteration_id=7)
    changes = IdeaChange.objects.count()
    again, created = idea_upsert(theme=theme, data=MUG, iteration_id=7)
    assert not created
    assert again.pk == first.pk
    assert Idea.objects.count() == 1
    assert IdeaChange.objects.count() == changes
    assert [c["action"] for c in audit_calls] == ["ideas.idea_created"]


def test_title_variants_are_the_same_idea(theme):
    first, _ = idea_upsert(theme=theme, data=MUG, iteration_id=1)
    again, created = idea_upsert(
        theme=theme, data={**MUG, "title": "  TSUKIMI mug-set! "}, iteration_id=2
    )
    assert (again.pk, created) == (first.pk, False)
    assert again.title == "Tsukimi mug set"  # identity, not a rename


def test_the_same_title_in_another_theme_is_another_idea(theme):
    other = ThemeFactory(status="archived")
    a, _ = idea_upsert(theme=theme, data=MUG, iteration_id=1)
    b, created = idea_upsert(theme=other, data=MUG, iteration_id=1)
    assert created and a.pk != b.pk


def test_an_update_logs_each_changed_field_with_its_iteration(theme, audit_calls):
    idea, _ = idea_upsert(theme=theme, data=MUG, iteration_id=1)
    new = {**MUG, "summary": "A moon mug whose lid is a dango.", "tags": ["seasonal", "tea"]}
    idea, created = idea_upsert(theme=theme, data=new, iteration_id=2)
    assert not created
    rows = {c.field: c for c in idea.changes.filter(iteration_id=2)}
    assert set(rows) == {"summary", "tags"}
    assert rows["summary"].old == MUG["summary"]
    assert rows["summary"].new == "A moon mug whose lid is a dango."
    assert rows["tags"].old == ["mug", "seasonal"] and rows["tags"].new == ["seasonal", "tea"]
    assert idea.updated_by_iteration_id == 2
    assert audit_calls[-1]["action"] == "ideas.idea_updated"
    assert audit_calls[-1]["data"]["fields"] == ["summary", "tags"]


def test_related_ids_link_ideas_both_ways(theme):
    base = IdeaFactory(theme=theme)
    idea, _ = idea_upsert(theme=theme, data={**MUG, "related_ids": [base.pk]}, iteration_id=1)
    assert list(idea.related.all()) == [base]
    assert list(base.related.all()) == [idea]


def test_related_ids_outside_the_theme_are_ignored(theme):
    stranger = IdeaFactory(theme=ThemeFactory(status="archived"))
    idea, _ = idea_upsert(theme=theme, data={**MUG, "related_ids": [stranger.pk]}, iteration_id=1)
    assert idea.related.count() == 0


def test_scores_in_the_data_are_set(theme):
    idea, _ = idea_upsert(
        theme=theme, data={**MUG, "scores": {"brand_fit": 8, "novelty": 6.5}}, iteration_id=1
    )
    assert (idea.brand_fit, idea.novelty, idea.feasibility) == (8.0, 6.5, None)
    assert idea.priority == pytest.approx(0.4 * 8 + 0.3 * 6.5 + 0.3 * 5)


def test_an_archived_idea_is_not_revived(theme):
    idea = IdeaFactory(theme=theme, title=MUG["title"], status=Idea.Status.ARCHIVED)
    again, created = idea_upsert(theme=theme, data={**MUG, "summary": "new"}, iteration_id=3)
    assert (again.pk, created, again.status) == (idea.pk, False, Idea.Status.ARCHIVED)
    assert again.summary != "new"


def test_invalid_data_names_the_field(theme):
    with pytest.raises(IdeaDataInvalid) as exc_info:
        idea_upsert(theme=theme, data={**MUG, "scores": {"novelty": 11}}, iteration_id=1)
    assert "idea.scores.novelty: 11 is greater than the maximum of 10" in exc_info.value.messages
    with pytest.raises(IdeaDataInvalid, match=r"idea\.title: is required"):
        idea_upsert(theme=theme, data={"summary": "no title"}, iteration_id=1)
    assert Idea.objects.count() == 0


def test_a_taboo_idea_is_refused_and_recorded(theme, audit_calls):
    data = {**MUG, "title": "Mochiusa zombie night", "summary": "A horror pop-up"}
    with pytest.raises(IdeaRefused) as exc_info:
        idea_upsert(theme=theme, data=data, iteration_id=4)
    assert any(r.startswith("taboo (ホラー") for r in exc_info.value.reasons)
    assert Idea.objects.count() == 0
    refusal = IdeaRefusal.objects.get()
    assert (refusal.title, refusal.iteration_id) == ("Mochiusa zombie night", 4)
    assert audit_calls[-1]["action"] == "ideas.idea_refused"


def test_an_illegal_idea_is_refused_whatever_the_taboos(theme):
    with pytest.raises(IdeaRefused, match="built-in line"):
        idea_upsert(theme=theme, data={"title": "Counterfeit plush resale"}, iteration_id=1)
    with pytest.raises(IdeaRefused, match="violent"):
        idea_upsert(theme=theme, data={"title": "武器を持ったもちうさ"}, iteration_id=1)
    assert Idea.objects.count() == 0
    assert IdeaRefusal.objects.count() == 2


def test_a_repeated_refused_delivery_is_one_refusal(theme):
    for _ in range(2):
        with pytest.raises(IdeaRefused):
            idea_upsert(theme=theme, data={"title": "Beer garden pop-up"}, iteration_id=9)
    assert IdeaRefusal.objects.count() == 1


def test_the_refusal_survives_when_the_caller_catches_it_in_its_transaction(theme):
    with transaction.atomic():
        with contextlib.suppress(IdeaRefused):
            idea_upsert(theme=theme, data={"title": "Gore plush"}, iteration_id=1)
        idea_upsert(theme=theme, data=MUG, iteration_id=1)
    assert IdeaRefusal.objects.count() == 1
    assert Idea.objects.count() == 1


def test_a_lost_insert_race_becomes_an_update(theme, monkeypatch):
    """Another worker inserts the same idea between our read and our insert."""
    import ideas.services.portfolio as portfolio

    IdeaFactory(theme=theme, title=MUG["title"], summary="rival's summary")
    # Our read happened before the rival's insert: it saw nothing.
    monkeypatch.setattr(portfolio, "_idea_by_fingerprint", lambda **kwargs: None)
    idea, created = idea_upsert(theme=theme, data=MUG, iteration_id=5)
    assert not created
    assert Idea.objects.count() == 1
    assert idea.summary == MUG["summary"]
    assert idea.changes.filter(field="summary", iteration_id=5).exists()
