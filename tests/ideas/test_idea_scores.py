"""Model scores, human corrections, review flags and archiving."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from ideas.models import Idea
from ideas.priority import REVIEWED_BONUS
from ideas.selectors import priority_ideas
from ideas.services import (
    idea_archive,
    idea_human_correct,
    idea_mark_reviewed,
    idea_scores_set,
)
from tests.ideas.factories import IdeaFactory

pytestmark = pytest.mark.django_db


def test_model_scores_are_set_and_logged(theme, audit_calls):
    idea = IdeaFactory(theme=theme)
    changed = idea_scores_set(
        idea=idea, scores={"brand_fit": 9, "novelty": 4, "feasibility": 7}, iteration_id=11
    )
    assert changed == ["brand_fit", "novelty", "feasibility"]
    assert idea.priority == pytest.approx(0.4 * 9 + 0.3 * 4 + 0.3 * 7)
    assert idea.changes.filter(iteration_id=11).count() == 3
    assert audit_calls[-1]["action"] == "ideas.idea_scored"
    assert idea_scores_set(idea=idea, scores={"brand_fit": 9}, iteration_id=12) == []


@pytest.mark.parametrize("scores", [{"brand_fit": 10.5}, {"novelty": -1}, {"charm": 5}])
def test_bad_scores_are_refused(theme, scores):
    idea = IdeaFactory(theme=theme)
    with pytest.raises(ValidationError):
        idea_scores_set(idea=idea, scores=scores, iteration_id=1)


def test_a_human_correction_wins_and_is_logged(theme, bob, audit_calls):
    idea = IdeaFactory(theme=theme, brand_fit=3.0)
    idea_human_correct(idea=idea, user=bob, brand_fit=9)
    assert idea.effective_brand_fit == 9.0
    assert idea.brand_fit == 3.0
    row = idea.changes.get(field="human_brand_fit")
    assert (row.old, row.new, row.actor) == (None, 9.0, bob)
    assert audit_calls[-1]["action"] == "ideas.scores_corrected"
    assert audit_calls[-1]["actor"] == bob


def test_clearing_a_correction_falls_back_to_the_model(theme, bob):
    idea = IdeaFactory(theme=theme, brand_fit=3.0, human_brand_fit=8.0)
    idea_human_correct(idea=idea, user=bob, brand_fit=None)
    assert idea.effective_brand_fit == 3.0


def test_correcting_needs_permission(theme, charlie):
    idea = IdeaFactory(theme=theme)
    with pytest.raises(PermissionDenied):
        idea_human_correct(idea=idea, user=charlie, brand_fit=9)
    assert idea.changes.count() == 0


def test_human_corrections_change_what_the_planner_picks(theme, bob):
    strong = IdeaFactory(theme=theme, title="strong")
    weak = IdeaFactory(theme=theme, title="weak")
    idea_scores_set(
        idea=strong, scores={"brand_fit": 8, "novelty": 8, "feasibility": 8}, iteration_id=1
    )
    idea_scores_set(
        idea=weak, scores={"brand_fit": 3, "novelty": 3, "feasibility": 3}, iteration_id=1
    )
    assert [i.title for i in priority_ideas(theme=theme, limit=2)] == ["strong", "weak"]
    idea_human_correct(idea=weak, user=bob, brand_fit=10, novelty=10, feasibility=10)
    idea_human_correct(idea=strong, user=bob, brand_fit=2)
    assert [i.title for i in priority_ideas(theme=theme, limit=2)] == ["weak", "strong"]


def test_review_flags_raise_priority(theme, bob, audit_calls):
    a = IdeaFactory(theme=theme, title="a")
    b = IdeaFactory(theme=theme, title="b")
    idea_scores_set(idea=a, scores={"brand_fit": 6}, iteration_id=1)
    idea_scores_set(idea=b, scores={"brand_fit": 6.5}, iteration_id=1)
    assert [i.title for i in priority_ideas(theme=theme, limit=2)] == ["b", "a"]
    assert idea_mark_reviewed(idea_ids=[a.pk], user=bob) == 1
    a.refresh_from_db()
    assert a.status == Idea.Status.REVIEWED and a.reviewed_by == bob
    assert a.priority == pytest.approx(0.4 * 6 + 0.6 * 5 + REVIEWED_BONUS)
    assert [i.title for i in priority_ideas(theme=theme, limit=2)] == ["a", "b"]
    assert audit_calls[-1] == {
        "action": "ideas.ideas_reviewed",
        "actor": bob,
        "subject": None,
        "data": {"idea_ids": [a.pk]},
    }


def test_a_later_score_change_keeps_the_review_bonus(theme, bob):
    idea = IdeaFactory(theme=theme)
    idea_mark_reviewed(idea_ids=[idea.pk], user=bob)
    idea_scores_set(idea=idea, scores={"brand_fit": 5}, iteration_id=2)
    assert idea.priority == pytest.approx(5.0 + REVIEWED_BONUS)


def test_marking_reviewed_skips_ideas_in_other_states(theme, bob):
    candidate = IdeaFactory(theme=theme)
    archived = IdeaFactory(theme=theme, status=Idea.Status.ARCHIVED)
    reviewed = IdeaFactory(theme=theme, status=Idea.Status.REVIEWED)
    assert idea_mark_reviewed(idea_ids=[candidate.pk, archived.pk, reviewed.pk], user=bob) == 1
    archived.refresh_from_db()
    assert archived.status == Idea.Status.ARCHIVED


def test_marking_reviewed_twice_gives_the_bonus_once(theme, bob):
    idea = IdeaFactory(theme=theme)
    idea_mark_reviewed(idea_ids=[idea.pk], user=bob)
    Idea.objects.filter(pk=idea.pk).update(status=Idea.Status.ACTIVE)
    idea_mark_reviewed(idea_ids=[idea.pk], user=bob)
    idea.refresh_from_db()
    assert idea.priority == pytest.approx(5.0 + REVIEWED_BONUS)


def test_a_lost_review_race_changes_nothing_twice(theme, bob):
    """Two reviewers at once: the second sees the row already reviewed and skips it."""
    idea = IdeaFactory(theme=theme)
    assert idea_mark_reviewed(idea_ids=[idea.pk], user=bob) == 1
    assert idea_mark_reviewed(idea_ids=[idea.pk], user=bob) == 0
    assert idea.changes.filter(field="status").count() == 1


def test_reviewing_and_archiving_need_permission(theme, charlie):
    idea = IdeaFactory(theme=theme)
    with pytest.raises(PermissionDenied):
        idea_mark_reviewed(idea_ids=[idea.pk], user=charlie)
    with pytest.raises(PermissionDenied):
        idea_archive(idea_ids=[idea.pk], user=charlie)


def test_archiving_takes_an_idea_out_of_the_planner(theme, bob, audit_calls):
    idea = IdeaFactory(theme=theme)
    assert idea_archive(idea_ids=[idea.pk], user=bob) == 1
    assert priority_ideas(theme=theme, limit=5) == []
    assert audit_calls[-1]["action"] == "ideas.ideas_archived"


def test_the_written_out_score_update_stores_what_the_orms_update_stored(theme):
    """``_scored_rows_write``'s UPDATE by hand against the ORM ``update()`` it replaced,
    on twin ideas given the same scores: the rows end the same but their own texts."""
    import datetime as dt

    from ideas.models import SCORE_FIELDS
    from ideas.services.scores import _SCORED_COLUMNS, _scored_rows_write

    by_hand, by_orm = IdeaFactory(theme=theme), IdeaFactory(theme=theme)
    when = dt.datetime(2026, 6, 7, 8, 9, 10, 111_213, tzinfo=dt.UTC)
    changes = {name: 1.5 + index for index, name in enumerate(SCORE_FIELDS)}
    changes.update(priority=7.125, updated_by_iteration_id=None, updated_at=when)
    for name, given in changes.items():
        setattr(by_hand, name, given)
    _scored_rows_write([by_hand])
    Idea.objects.filter(pk=by_orm.pk).update(**{name: changes[name] for name in _SCORED_COLUMNS})
    hand = Idea.objects.filter(pk=by_hand.pk).values().get()
    orm = Idea.objects.filter(pk=by_orm.pk).values().get()
    own = {"id", "title", "summary", "fingerprint", "created_at"}
    assert {name for name in hand if hand[name] != orm[name]} <= own
    assert hand["updated_at"] == when and hand["priority"] == 7.125
    assert {name: hand[name] for name in SCORE_FIELDS} == {
        name: changes[name] for name in SCORE_FIELDS
    }
