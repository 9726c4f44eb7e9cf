"""idea_update: the editor's field changes, with reasons, checked against the line."""

from __future__ import annotations

import pytest

from ideas.models import Idea, IdeaRefusal
from ideas.services import IdeaRefused, IdeaTransitionError, idea_update
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
