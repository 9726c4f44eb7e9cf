"""The counters' tag update written out (``ideas.services.counters._tags_add``) changes
exactly what the ORM form it replaced changed, on the same rows. Run on SQLite and on
PostgreSQL (``DATABASE_URL=postgres://...``)."""

from __future__ import annotations

import pytest
from django.db.models import F

from ideas.models import Tag
from ideas.services.counters import _tags_add
from tests.ideas.factories import ThemeFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


@pytest.mark.parametrize("n", [1, -2])
def test_tags_add_moves_what_the_orm_update_moved(n):
    theme = ThemeFactory()
    tags = [Tag.objects.create(theme=theme, name=name, visible_ideas=5) for name in "abcde"]
    ours, orms, untouched = tags[:2], tags[2:4], tags[4]
    assert _tags_add(pks=[t.pk for t in ours], n=n) == 2
    assert (
        Tag.objects.filter(pk__in=[t.pk for t in orms]).update(visible_ideas=F("visible_ideas") + n)
        == 2
    )
    found = dict(Tag.objects.values_list("name", "visible_ideas"))
    assert found == {"a": 5 + n, "b": 5 + n, "c": 5 + n, "d": 5 + n, "e": 5}
    assert isinstance(found["a"], int) and untouched.name == "e"
