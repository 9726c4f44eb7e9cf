"""Idea.tag_names: the prefetched tags read where Django keeps them, never stale."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models import Prefetch
from django.test.utils import CaptureQueriesContext

from ideas.models import TAGS_PREFETCH_NAME, Idea, Tag
from ideas.selectors import priority_ideas
from tests.ideas.factories import IdeaFactory

pytestmark = pytest.mark.django_db


def test_the_prefetch_name_is_the_one_djangos_manager_uses(theme):
    idea = IdeaFactory(theme=theme)
    assert idea.tags.prefetch_cache_name == TAGS_PREFETCH_NAME


def test_prefetched_tag_names_read_no_row_and_equal_the_managers(theme):
    IdeaFactory(theme=theme, tags=["tea", "moon", "mug"])
    IdeaFactory(theme=theme, tags=[])
    ideas = list(Idea.objects.filter(theme=theme).prefetch_related("tags").order_by("pk"))
    with CaptureQueriesContext(connection) as queries:
        names = [idea.tag_names for idea in ideas]
    assert len(queries) == 0
    assert names == [["moon", "mug", "tea"], []]
    assert names == [sorted(t.name for t in idea.tags.all()) for idea in ideas]


def test_the_written_out_prefetch_serves_tag_names_too(theme):
    IdeaFactory(theme=theme, tags=["b", "a"], priority=9)
    found = priority_ideas(theme=theme, limit=5)
    with CaptureQueriesContext(connection) as queries:
        assert [idea.tag_names for idea in found] == [["a", "b"]]
    assert len(queries) == 0


def test_a_tag_added_after_the_prefetch_is_listed(theme):
    IdeaFactory(theme=theme, tags=["moon"])
    idea = Idea.objects.prefetch_related("tags").get(theme=theme)
    assert idea.tag_names == ["moon"]
    idea.tags.add(Tag.objects.create(theme=theme, name="dango"))
    assert idea.tag_names == ["dango", "moon"]
    idea.tags.clear()
    assert idea.tag_names == []


def test_a_filtered_prefetch_lists_what_the_manager_returns(theme):
    IdeaFactory(theme=theme, tags=["moon", "mug"])
    idea = Idea.objects.prefetch_related(
        Prefetch("tags", queryset=Tag.objects.filter(name="mug"))
    ).get(theme=theme)
    assert idea.tag_names == ["mug"] == [t.name for t in idea.tags.all()]


def test_without_a_prefetch_the_tags_are_read(theme):
    created = IdeaFactory(theme=theme, tags=["sakura", "plush"])
    idea = Idea.objects.get(pk=created.pk)
    with CaptureQueriesContext(connection) as queries:
        assert idea.tag_names == ["plush", "sakura"]
    assert len(queries) == 1
