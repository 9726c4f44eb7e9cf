"""The portfolio reads written out by hand (``ideas.selectors``) read exactly what their
ORM forms read: the same rows, every column converted the same way, in the same order,
ties included, and the shown ideas' tags left as ``prefetch_related("tags")`` leaves
them. Run on SQLite and on PostgreSQL (``DATABASE_URL=postgres://...``)."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from django.db import connection
from django.db.models import F
from django.utils import timezone

from bizagent.sql import rows_fetch
from ideas.models import Idea, PortfolioCounters, Tag
from ideas.selectors import (
    PRIORITY_ORDER,
    _counters_row,
    _ideas_shown,
    _overlap_window_read,
    _top_tags,
    _window_sql,
    ideas_corrected,
    ideas_shown_named,
    newest_texts,
    portfolio_stats,
    priority_idea_lines,
    priority_ideas,
    tag_names_of,
)
from ideas.services.counters import portfolio_counters_rebuild
from tests.ideas.factories import ThemeFactory
from tests.ideas.test_query_plans import _assert_served_by_indexes, _statements

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

STATUSES = [*Idea.VISIBLE_STATUSES, Idea.Status.ARCHIVED, Idea.Status.REFUSED]


def _portfolio(theme, n: int = 40) -> list[Idea]:
    """Ideas with many ties: five priorities, three update times, every status, some
    without tags, some with several, scores and JSON set on some."""
    tags = Tag.objects.bulk_create([Tag(theme=theme, name=name) for name in "edcba"])
    Idea.objects.bulk_create(
        [
            Idea(
                theme=theme,
                title=f"Idea {i} 茶",
                summary=f"Summary {i}: a calm product.",
                fingerprint=hashlib.sha256(f"{theme.pk} idea {i}".encode()).hexdigest(),
                priority=float(i % 5),
                brand_fit=float(i % 7) if i % 3 else None,
                human_brand_fit=0.5 if i % 11 == 0 else None,
                status=STATUSES[i % len(STATUSES)],
            )
            for i in range(n)
        ]
    )
    ideas = list(Idea.objects.filter(theme=theme).order_by("pk"))
    base = timezone.now().replace(microsecond=0)
    for idea in ideas:  # three update times shared by many ideas: ties on both keys
        Idea.objects.filter(pk=idea.pk).update(updated_at=base - dt.timedelta(hours=idea.pk % 3))
    through = Idea.tags.through
    through.objects.bulk_create(
        [
            through(idea_id=idea.pk, tag_id=tag.pk)
            for idea in ideas
            for k, tag in enumerate(tags)
            if idea.pk % 4 and k < idea.pk % 4
        ]
    )
    return ideas


def _row(idea: Idea) -> dict:
    return {field.attname: getattr(idea, field.attname) for field in Idea._meta.concrete_fields}


@pytest.mark.parametrize("limit", [1, 3, 7, 12, 40])
def test_priority_ideas_without_tags_are_the_orm_rows_in_its_order(limit):
    theme = ThemeFactory()
    _portfolio(theme)
    _portfolio(ThemeFactory(status="archived"))  # another theme's ideas stay out
    expected = list(
        Idea.objects.filter(theme=theme, status__in=Idea.VISIBLE_STATUSES).order_by(
            *PRIORITY_ORDER
        )[:limit]
    )
    found = priority_ideas(theme=theme, limit=limit, with_tags=False)
    assert [_row(idea) for idea in found] == [_row(idea) for idea in expected]
    assert all(not idea._state.adding and idea._state.db == "default" for idea in found)


@pytest.mark.parametrize("limit", [1, 3, 7, 12, 40])
def test_priority_idea_lines_are_the_orm_values_in_its_order(limit):
    theme = ThemeFactory()
    _portfolio(theme)
    _portfolio(ThemeFactory(status="archived"))  # another theme's ideas stay out
    expected = list(
        Idea.objects.filter(theme=theme, status__in=Idea.VISIBLE_STATUSES)
        .order_by(*PRIORITY_ORDER)
        .values_list("pk", "title", "summary")[:limit]
    )
    assert priority_idea_lines(theme=theme, limit=limit) == expected
    assert [pk for pk, _, _ in expected] == [
        idea.pk for idea in priority_ideas(theme=theme, limit=limit, with_tags=False)
    ]


def test_priority_ideas_without_tags_walk_the_priority_index():
    theme = ThemeFactory()
    _portfolio(theme, n=120)
    with _statements() as seen:
        assert len(priority_ideas(theme=theme, limit=12, with_tags=False)) == 12
        assert len(priority_idea_lines(theme=theme, limit=12)) == 12
        assert len(newest_texts(theme=theme, limit=50)) == 50
    _assert_served_by_indexes(seen)


def _shown_case() -> tuple[list[int], list[Idea]]:
    """Ids to show (tagged and untagged ideas out of key order, hidden ideas and an id
    that does not exist) and the ORM's visible ideas among them, tags prefetched."""
    theme = ThemeFactory()
    ideas = _portfolio(theme)
    visible = [idea for idea in ideas if idea.status in Idea.VISIBLE_STATUSES]
    untagged = [idea.pk for idea in visible if idea.pk % 4 == 0][:2]
    tagged = [idea.pk for idea in visible if idea.pk % 4 == 3][:2]
    hidden = [idea.pk for idea in ideas if idea.status not in Idea.VISIBLE_STATUSES][:2]
    # Out of key order, hidden ideas and an id that does not exist among them.
    ids = [tagged[1], untagged[0], hidden[0], 10**9, tagged[0], hidden[1], untagged[1]]
    by_pk = {
        idea.pk: idea
        for idea in Idea.objects.filter(
            pk__in=ids, status__in=Idea.VISIBLE_STATUSES
        ).prefetch_related("tags")
    }
    expected = [by_pk[pk] for pk in ids if pk in by_pk]
    return ids, expected


def test_shown_ideas_are_the_orm_rows_with_the_tags_prefetch_leaves(
    django_assert_num_queries,
):
    ids, expected = _shown_case()
    with django_assert_num_queries(1):
        found = _ideas_shown(ids)
    assert [_row(idea) for idea in found] == [_row(idea) for idea in expected]
    assert any(not idea.tag_names for idea in found) and any(
        len(idea.tag_names) > 1 for idea in found
    )
    with django_assert_num_queries(0):  # the tags come from the prefetch cache
        tags = [[(tag.pk, tag.name) for tag in idea.tags.all()] for idea in found]
        names = [idea.tag_names for idea in found]
    assert tags == [[(tag.pk, tag.name) for tag in idea.tags.all()] for idea in expected]
    assert names == [idea.tag_names for idea in expected]
    # Chained on, the cached queryset still reads this idea's tags (as the ORM's does).
    tagged = next(idea for idea in found if len(idea.tag_names) > 1)
    first = tagged.tag_names[0]
    assert [tag.name for tag in tagged.tags.all().filter(name=first)] == [first]
    orm = next(idea for idea in expected if idea.pk == tagged.pk)
    assert str(tagged.tags.all().filter(name=first).query) == str(
        orm.tags.all().filter(name=first).query
    )
    assert _ideas_shown([]) == []


def test_shown_ideas_named_are_the_orm_rows_with_their_sorted_tag_names(
    django_assert_num_queries,
):
    ids, expected = _shown_case()
    with django_assert_num_queries(1):
        found, names = ideas_shown_named(ids=ids)
    assert [_row(idea) for idea in found] == [_row(idea) for idea in expected]
    assert names == {idea.pk: idea.tag_names for idea in expected}
    assert any(not found for found in names.values())
    assert any(len(found) > 1 for found in names.values())
    assert ideas_shown_named(ids=[]) == ([], {})


def test_newest_texts_are_the_orm_sample_in_its_order():
    theme = ThemeFactory()
    _portfolio(theme)
    _portfolio(ThemeFactory(status="archived"))
    for limit in (1, 5, 50):
        expected = [
            f"{title}. {summary}"
            for title, summary in Idea.objects.filter(theme=theme, status__in=Idea.VISIBLE_STATUSES)
            .order_by("-pk")
            .values_list("title", "summary")[:limit]
        ]
        assert newest_texts(theme=theme, limit=limit) == expected


@pytest.mark.parametrize("window", [1, 7, 40])
def test_the_overlap_window_is_the_orm_ids_in_order_with_their_tags(monkeypatch, window):
    import ideas.selectors

    theme = ThemeFactory()
    made = _portfolio(theme)
    _portfolio(ThemeFactory(status="archived"))
    # Update times with and without a fraction of a second beside the whole ones (SQLite
    # stores them as text, which is then ordered here): ties broken either way.
    whole = timezone.now().replace(microsecond=0)
    for idea in made[::4]:
        Idea.objects.filter(pk=idea.pk).update(
            updated_at=whole + dt.timedelta(microseconds=idea.pk % 2 * 10)
        )
    monkeypatch.setattr(ideas.selectors, "OVERLAP_WINDOW", window)
    ids = tuple(
        Idea.objects.filter(theme=theme, status__in=Idea.VISIBLE_STATUSES)
        .order_by(*PRIORITY_ORDER)
        .values_list("pk", flat=True)[:window]
    )
    tags: dict[int, set[int]] = {}
    for idea_id, tag_id in Idea.tags.through.objects.filter(idea_id__in=ids).values_list(
        "idea_id", "tag_id"
    ):
        tags.setdefault(idea_id, set()).add(tag_id)
    positions: dict[int, list[int]] = {}
    for position, pk in enumerate(ids):
        for tag_id in sorted(tags.get(pk, ())):
            positions.setdefault(tag_id, []).append(position)
    read = _overlap_window_read(theme)
    assert read.ids == ids
    # Per tag, the positions of its ideas in the window, ascending.
    assert read.positions == {tag_id: tuple(found) for tag_id, found in positions.items()}
    assert _overlap_window_read(ThemeFactory(status="archived")).ids == ()


def test_the_overlap_window_reads_update_times_as_sqlites_stored_text(theme):
    """On SQLite the window's sort key comes back as the stored text, not parsed into a
    datetime row by row (Django's converter for the column's type was most of the read);
    the text is what the index orders by."""
    _portfolio(theme)
    rows = rows_fetch(_window_sql(), [theme.pk, *Idea.VISIBLE_STATUSES, 10])
    assert rows
    if connection.vendor == "sqlite":
        assert all(isinstance(updated_at, str) for _, updated_at, _, _ in rows)
    else:
        assert all(isinstance(updated_at, dt.datetime) for _, updated_at, _, _ in rows)


@pytest.mark.parametrize("limit", [1, 7, 40])
def test_priority_ideas_with_tags_are_the_orm_rows_with_the_tags_prefetch_leaves(
    django_assert_num_queries, limit
):
    theme = ThemeFactory()
    _portfolio(theme)
    _portfolio(ThemeFactory(status="archived"))  # another theme's ideas and tags stay out
    expected = list(
        Idea.objects.filter(theme=theme, status__in=Idea.VISIBLE_STATUSES)
        .order_by(*PRIORITY_ORDER)
        .prefetch_related("tags")[:limit]
    )
    with django_assert_num_queries(2):  # the ideas, then their tags
        found = priority_ideas(theme=theme, limit=limit)
    assert [_row(idea) for idea in found] == [_row(idea) for idea in expected]
    assert all(not idea._state.adding and idea._state.db == "default" for idea in found)
    with django_assert_num_queries(0):  # the tags come from the prefetch cache
        tags = [[(tag.pk, tag.name, tag.theme_id) for tag in idea.tags.all()] for idea in found]
        names = [idea.tag_names for idea in found]
    assert tags == [
        [(tag.pk, tag.name, tag.theme_id) for tag in idea.tags.all()] for idea in expected
    ]
    assert names == [idea.tag_names for idea in expected]
    if limit > 3:
        assert any(not n for n in names) and any(len(n) > 1 for n in names)
        tagged = next(idea for idea in found if len(idea.tag_names) > 1)
        first = tagged.tag_names[0]
        assert [tag.name for tag in tagged.tags.all().filter(name=first)] == [first]
        # Chained on, the same statement as on the ORM's prefetch, for each idea.
        for idea, orm in zip(found, expected, strict=True):
            assert str(idea.tags.all().filter(name=first).query) == str(
                orm.tags.all().filter(name=first).query
            )


def test_priority_ideas_with_tags_of_an_empty_theme_read_one_statement(
    django_assert_num_queries,
):
    theme = ThemeFactory()
    with django_assert_num_queries(1):
        assert priority_ideas(theme=theme, limit=5) == []


@pytest.mark.parametrize("limit", [1, 4, 40])
def test_the_corrections_are_the_orm_rows_in_its_order(limit):
    theme = ThemeFactory()
    ideas = _portfolio(theme)
    _portfolio(ThemeFactory(status="archived"))
    base = timezone.now().replace(microsecond=0)
    for idea in ideas[::4]:  # reviewed at two times (ties), some also re-scored by a person
        Idea.objects.filter(pk=idea.pk).update(reviewed_at=base - dt.timedelta(days=idea.pk % 2))
    expected = list(
        Idea.objects.filter(theme=theme, status__in=Idea.VISIBLE_STATUSES)
        .exclude(reviewed_at__isnull=True, human_brand_fit__isnull=True)
        .order_by(F("reviewed_at").desc(nulls_last=True), "-updated_at")[:limit]
    )
    found = ideas_corrected(theme=theme, limit=limit)
    assert [_row(idea) for idea in found] == [_row(idea) for idea in expected]
    assert len(found) == min(limit, len(expected)) and found
    if limit == 40:  # reviewed ones first, then the ones only a person re-scored
        assert found[0].reviewed_at is not None and found[-1].reviewed_at is None


def test_the_top_tags_and_the_counters_are_the_orm_reads(django_assert_num_queries):
    theme = ThemeFactory()
    _portfolio(theme)
    other = ThemeFactory(status="archived")
    _portfolio(other)
    PortfolioCounters.objects.filter(theme=theme).delete()
    assert _counters_row(theme) is None  # no row: portfolio_stats scans instead
    portfolio_counters_rebuild(theme=theme)
    portfolio_counters_rebuild(theme=other)
    # Ties on the count, and a tag of no visible idea (left out).
    Tag.objects.create(theme=theme, name="aa-unused")
    Tag.objects.filter(theme=theme, name__in=["b", "c"]).update(visible_ideas=7)
    expected_tags = list(
        Tag.objects.filter(theme=theme, visible_ideas__gt=0)
        .order_by("-visible_ideas", "name")
        .values_list("name", "visible_ideas")[:10]
    )
    expected_row = PortfolioCounters.objects.filter(theme=theme).values().first()
    assert expected_row is not None and expected_row["rebuilt_at"] is not None
    with django_assert_num_queries(2):
        tags, row = _top_tags(theme), _counters_row(theme)
    assert tags == expected_tags and len(tags) == 4  # "a" and "aa-unused" show no idea
    assert row == expected_row
    assert portfolio_stats(theme=theme)["top_tags"] == [list(pair) for pair in expected_tags]


def test_tag_names_of_equals_the_prefetched_tag_names():
    theme = ThemeFactory(status="archived")
    ideas = _portfolio(theme)
    ids = [*(idea.pk for idea in reversed(ideas)), 10**9]  # any order, one that does not exist
    found = tag_names_of(idea_ids=ids)
    expected = {
        idea.pk: idea.tag_names for idea in Idea.objects.filter(pk__in=ids).prefetch_related("tags")
    }
    assert list(found) == ids  # every id asked for, in the order asked
    assert found[10**9] == []
    del found[10**9]
    assert found == expected
    assert any(not names for names in found.values())
    assert any(len(names) > 1 for names in found.values())
    assert tag_names_of(idea_ids=[]) == {}
