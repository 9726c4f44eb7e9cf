"""idea_update: the editor's field changes, with reasons, checked against the line."""

from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import transaction

from ideas.models import Idea, IdeaChange, IdeaRefusal
from ideas.services import IdeaDataInvalid, IdeaRefused, IdeaTransitionError, idea_update
from tests.ideas.factories import IdeaFactory

pytestmark = pytest.mark.django_db


def test_it_changes_fields_and_logs_the_reason(theme):
    idea = IdeaFactory(theme=theme, summary="old summary")
    changed = idea_update(
        idea=idea, changes={"summary": "new summary"}, iteration_id=3, reason="clearer"
    )
    assert changed == ["summary"]
    assert idea.summary == "new summary"  # the caller's instance is refreshed
    row = idea.changes.get(field="summary")
    assert (row.old, row.new, row.iteration_id, row.reason) == (
        "old summary",
        "new summary",
        3,
        "clearer",
    )


def test_no_change_means_no_row(theme):
    idea = IdeaFactory(theme=theme, summary="same")
    assert idea_update(idea=idea, changes={"summary": "same"}, iteration_id=3) == []
    assert idea.changes.count() == 0


def test_a_rename_moves_the_fingerprint(theme):
    idea = IdeaFactory(theme=theme, title="Moon mug")
    idea_update(idea=idea, changes={"title": "Full moon mug"}, iteration_id=1)
    other = IdeaFactory.build(theme=theme, title="full  MOON mug")
    assert idea.fingerprint == other.fingerprint


def test_a_rename_onto_another_idea_is_skipped(theme):
    IdeaFactory(theme=theme, title="Sakura plush")
    idea = IdeaFactory(theme=theme, title="Moon mug")
    changed = idea_update(
        idea=idea, changes={"title": "sakura plush", "summary": "x y z"}, iteration_id=1
    )
    assert changed == ["summary"]
    assert idea.title == "Moon mug"


def test_an_edit_that_crosses_the_line_is_refused_and_nothing_changes(theme):
    idea = IdeaFactory(theme=theme, summary="calm")
    with pytest.raises(IdeaRefused):
        idea_update(idea=idea, changes={"summary": "with a zombie twist"}, iteration_id=2)
    idea.refresh_from_db()
    assert idea.summary == "calm"
    assert IdeaRefusal.objects.get().idea == idea


def test_an_archived_idea_cannot_be_edited(theme):
    idea = IdeaFactory(theme=theme, status=Idea.Status.ARCHIVED)
    with pytest.raises(IdeaTransitionError):
        idea_update(idea=idea, changes={"summary": "x"}, iteration_id=1)


def test_the_callers_idea_ends_as_the_row_in_one_statement_less(theme, django_assert_num_queries):
    """The caller's instance is brought up to date from the row the edit locked and wrote
    (every column as the database has it, the tags it carried no longer cached), without
    reading the row again; and the edit writes only the changed columns."""
    idea = IdeaFactory(theme=theme, summary="old summary", tags=["mug"])
    assert [t.name for t in idea.tags.all()] == ["mug"]
    idea = Idea.objects.prefetch_related("tags").get(pk=idea.pk)
    ContentType.objects.clear_cache()  # the audit event's content type: read every time
    # The lock's read, the tags' (the idea's links, the named tags, the one missing
    # created, unlink, link: the links are not read again), the UPDATE, the change rows,
    # the counters and the tags' two moves, the content type, the audit event, its
    # Sheets row: no read of the row after the write, no savepoint inside the test's
    # transaction.
    with django_assert_num_queries(14):
        idea_update(
            idea=idea,
            changes={"summary": "new summary", "tags": ["cup"]},
            iteration_id=7,
            reason="clearer",
        )
    row = Idea.objects.get(pk=idea.pk)
    for field in Idea._meta.concrete_fields:
        assert getattr(idea, field.attname) == getattr(row, field.attname), field.name
    assert [t.name for t in idea.tags.all()] == ["cup"]
    assert (row.summary, row.updated_by_iteration_id) == ("new summary", 7)


def test_a_refused_edit_inside_the_callers_transaction_leaves_it_usable(theme):
    """The edit opens no savepoint of its own: an edit refused for the idea's state or
    its data writes nothing and the caller's transaction (the editor's persist) goes on
    with its next edit, which commits."""
    archived = IdeaFactory(theme=theme, status=Idea.Status.ARCHIVED, summary="kept")
    idea = IdeaFactory(theme=theme, summary="old")
    with transaction.atomic():
        with pytest.raises(IdeaTransitionError):
            idea_update(idea=archived, changes={"summary": "x"}, iteration_id=1)
        with pytest.raises(IdeaDataInvalid):
            idea_update(idea=idea, changes={"summary": "s" * 301}, iteration_id=1)
        assert idea_update(idea=idea, changes={"summary": "new"}, iteration_id=1) == ["summary"]
    assert Idea.objects.get(pk=archived.pk).summary == "kept"
    assert Idea.objects.get(pk=idea.pk).summary == "new"
    assert list(IdeaChange.objects.filter(idea__theme=theme).values_list("field", flat=True)) == [
        "summary"
    ]
