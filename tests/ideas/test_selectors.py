"""Portfolio reads: the active theme, priorities, context candidates, statistics."""

from __future__ import annotations

import pytest

from ideas.models import Idea
from ideas.selectors import (
    PRIORITY_ORDER,
    idea_context_candidates,
    portfolio_stats,
    priority_ideas,
    snapshot_latest,
    theme_active,
)
from tests.ideas.factories import IdeaFactory, SnapshotFactory, ThemeFactory

pytestmark = pytest.mark.django_db

#: Each choice of related ideas holds with the overlap counted in the database (no
#: epoch) and on the epoch's cached window (``overlap_window_get``).
EPOCHS = pytest.mark.parametrize("epoch", [None, 0], ids=["per-call", "epoch-window"])


def test_theme_active(theme):
    ThemeFactory(status="archived")
    assert theme_active() == theme


def test_no_active_theme():
    ThemeFactory(status="archived")
    assert theme_active() is None


def test_priority_ideas_skip_archived_and_refused(theme):
    keep = IdeaFactory(theme=theme, priority=3)
    IdeaFactory(theme=theme, priority=9, status=Idea.Status.ARCHIVED)
    IdeaFactory(theme=theme, priority=9, status=Idea.Status.REFUSED)
    assert priority_ideas(theme=theme, limit=10) == [keep]


@EPOCHS
def test_candidates_are_limited_and_exclude_the_focus(theme, epoch):
    focus = IdeaFactory(theme=theme, tags=["mug"])
    IdeaFactory.create_batch(10, theme=theme, tags=["mug"])
    found = idea_context_candidates(theme=theme, focus_ideas=[focus], limit=4, epoch=epoch)
    assert len(found) == 4
    assert focus not in found


@EPOCHS
def test_candidates_leave_out_the_ideas_shown_already_and_still_fill_the_limit(theme, epoch):
    """The prompt's portfolio block shows its ideas already: left out in the query, the
    next most relevant ideas take their places (tag overlap first, then priority)."""
    focus = IdeaFactory(theme=theme, tags=["mug", "tea"])
    shown = IdeaFactory(theme=theme, tags=["mug", "tea"], priority=9)
    sharing = IdeaFactory(theme=theme, tags=["mug"], priority=1)
    top = IdeaFactory(theme=theme, tags=["digital"], priority=10)
    found = idea_context_candidates(
        theme=theme, focus_ideas=[focus], limit=2, exclude_ids=[shown.pk], epoch=epoch
    )
    assert found == [sharing, top]


@EPOCHS
def test_candidates_rank_by_tag_overlap_before_priority(theme, epoch):
    focus = IdeaFactory(theme=theme, tags=["mug", "seasonal", "tea"])
    two = IdeaFactory(theme=theme, tags=["mug", "tea"], priority=1)
    one = IdeaFactory(theme=theme, tags=["mug"], priority=9)
    none = IdeaFactory(theme=theme, tags=["digital"], priority=10)
    found = idea_context_candidates(theme=theme, focus_ideas=[focus], limit=3, epoch=epoch)
    assert found == [two, one, none]


@EPOCHS
def test_candidates_by_overlap_are_most_shared_tags_then_priority_order(theme, epoch):
    """The definition, on a portfolio with ties: the ideas sharing the most tags with the
    focus first, ties in priority order, the excluded ones left out; then the top."""
    words = ["mug", "tea", "moon", "plush", "card", "zine"]
    focus = IdeaFactory(theme=theme, tags=words[:4])
    made = [
        IdeaFactory(
            theme=theme, tags=[words[(n * 7 + k) % 6] for k in range(n % 4)], priority=n % 5
        )
        for n in range(30)
    ]
    excluded = [made[3].pk, made[11].pk]
    wanted = set(words[:4])
    best_first = list(
        Idea.objects.filter(theme=theme, status__in=Idea.VISIBLE_STATUSES)
        .exclude(pk__in=[focus.pk, *excluded])
        .order_by(*PRIORITY_ORDER)
    )
    shared = {idea.pk: len(wanted & set(idea.tag_names)) for idea in best_first}
    expected = sorted(
        (idea for idea in best_first if shared[idea.pk]), key=lambda idea: -shared[idea.pk]
    )
    expected += [idea for idea in best_first if idea not in expected]
    found = idea_context_candidates(
        theme=theme, focus_ideas=[focus], limit=12, exclude_ids=excluded, epoch=epoch
    )
    assert found == expected[:12]


@EPOCHS
def test_candidates_without_focus_are_the_top_of_the_portfolio(theme, epoch):
    low = IdeaFactory(theme=theme, priority=1)
    high = IdeaFactory(theme=theme, priority=8)
    assert idea_context_candidates(theme=theme, focus_ideas=[], limit=5, epoch=epoch) == [high, low]


def test_an_epoch_reads_its_overlap_window_once_and_keeps_it(theme, django_assert_max_num_queries):
    """The window of an epoch is read by its first call; later calls count the overlap
    on it without the window's queries. An idea archived since is still left out; an
    idea new since is a candidate from the next epoch on (the portfolio block's rhythm)."""
    focus = IdeaFactory(theme=theme, tags=["mug", "tea"])
    sharing = IdeaFactory(theme=theme, tags=["mug", "tea"], priority=1)
    archived_later = IdeaFactory(theme=theme, tags=["mug"], priority=2)
    idea_context_candidates(theme=theme, focus_ideas=[focus], limit=3, epoch=4)
    archived_later.status = Idea.Status.ARCHIVED
    archived_later.save()
    newcomer = IdeaFactory(theme=theme, tags=["mug", "tea"], priority=9)
    details = {"focus_links": [], "focus_tag_ids": list(focus.tags.values_list("pk", flat=True))}
    # The cache read, the still-visible check and the chosen ideas' tags.
    with django_assert_max_num_queries(3):
        found = idea_context_candidates(
            theme=theme, focus_ideas=[focus], limit=3, epoch=4, **details
        )
    assert found == [sharing]
    found = idea_context_candidates(theme=theme, focus_ideas=[focus], limit=3, epoch=5, **details)
    assert found == [newcomer, sharing]


def test_portfolio_stats(theme):
    IdeaFactory(theme=theme, title="Moon mug", brand_fit=8.0, novelty=4.0)
    IdeaFactory(theme=theme, title="Sakura plush", brand_fit=6.0, human_brand_fit=2.0)
    IdeaFactory(theme=theme, title="Archived", brand_fit=10.0, status=Idea.Status.ARCHIVED)
    stats = portfolio_stats(theme=theme)
    assert stats["ideas"] == 2
    assert stats["by_status"]["archived"] == 1
    assert stats["human_corrected"] == 1
    assert stats["scores"]["brand_fit"] == {"n": 2, "mean": 5.0, "variance": 9.0}
    assert stats["scores"]["novelty"] == {"n": 1, "mean": 4.0, "variance": 0.0}
    assert stats["scores"]["feasibility"] == {"n": 0, "mean": None, "variance": None}
    assert stats["sample_size"] == 2
    assert 0.0 <= stats["scatter"] <= 1.0


def test_portfolio_stats_on_an_empty_portfolio(theme):
    stats = portfolio_stats(theme=theme)
    assert stats["ideas"] == 0 and stats["diversity"] is None and stats["scatter"] == 0.0


def test_snapshot_latest_prefers_the_active_theme(theme):
    SnapshotFactory(theme=ThemeFactory(status="archived"))
    mine = SnapshotFactory(theme=theme)
    assert snapshot_latest() == mine
