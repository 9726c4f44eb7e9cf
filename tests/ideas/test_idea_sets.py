"""Tags and related ids are sets: the idea schema says so, and duplicates are harmless."""

from __future__ import annotations

import pytest

from ideas.services import idea_upsert
from ideas.theme_files import IDEA_SCHEMA, document_errors, schema_load
from tests.ideas.factories import IdeaFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name", ["tags", "related"])
def test_the_idea_schema_declares_tags_and_related_as_sets(name):
    assert schema_load(IDEA_SCHEMA)["properties"][name]["uniqueItems"] is True
    value = ["tea", "tea"] if name == "tags" else [3, 3]
    errors = document_errors(
        document={"title": "Moon tea", name: value}, schema_name=IDEA_SCHEMA, label="idea"
    )
    assert errors and "non-unique elements" in errors[0]


def test_duplicates_in_an_ideas_sets_are_dropped_not_refused(theme):
    other = IdeaFactory(theme=theme)
    data = {
        "title": "Moon tea set",
        "tags": ["tea", "moon", "tea"],
        "related_ids": [other.pk, other.pk],
    }
    idea, created = idea_upsert(theme=theme, data=data, iteration_id=None)
    assert created
    assert idea.tag_names == ["moon", "tea"]
    assert list(idea.related.values_list("pk", flat=True)) == [other.pk]
