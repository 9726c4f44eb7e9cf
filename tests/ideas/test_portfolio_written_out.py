"""The idea writes written out by hand (``ideas.services.portfolio``) read and store
exactly what the ORM forms they replace did, on the same rows: the edit's locked read,
its UPDATE and change rows, the tags' resolution and links. Run on SQLite and on
PostgreSQL (``DATABASE_URL=postgres://...``)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.contrib.auth.models import AnonymousUser
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from ideas.models import Idea, IdeaChange, Tag
from ideas.services import portfolio
from ideas.services.portfolio import (
    _IDEA_FIELDS,
    _change,
    _idea_locked_read,
    _save_with_changes,
    _tag_links_read,
    _tag_links_write,
    _tags_resolve,
)
from tests.ideas.factories import IdeaFactory, IPProfileFactory, ThemeFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

WHEN = dt.datetime(2026, 4, 5, 6, 7, 8, 901_234, tzinfo=dt.UTC)


def _row(idea: Idea) -> dict:
    return {field.attname: getattr(idea, field.attname) for field in Idea._meta.concrete_fields}


def _orm_locked(pk: int) -> Idea:
    return (
        Idea.objects.select_for_update(of=("self",))
        .select_related("theme__ip_profile")
        .only(*_IDEA_FIELDS, "theme__ip_profile__taboos")
        .get(pk=pk)
    )


def test_the_locked_read_is_the_orm_forms_row_theme_and_taboos():
    taboos = [{"topic": "火", "keywords": ["flame", "炎"]}, {"topic": "none", "keywords": []}]
    theme = ThemeFactory(ip_profile=IPProfileFactory(taboos=taboos))
    idea = IdeaFactory(
        theme=theme,
        title="茶 | cup",
        brand_fit=7.5,
        human_novelty=0.25,
        status=Idea.Status.REVIEWED,
        created_by_iteration_id=3,
        reviewed_at=WHEN,
    )
    IdeaFactory(theme=ThemeFactory(status="archived"))  # another theme's idea stays out
    with transaction.atomic(), CaptureQueriesContext(connection) as ours:
        found = _idea_locked_read(idea.pk)
    with transaction.atomic(), CaptureQueriesContext(connection) as orm:
        expected = _orm_locked(idea.pk)
    assert _row(found) == _row(expected)
    assert found.reviewed_at == WHEN and found.brand_fit == 7.5
    with CaptureQueriesContext(connection) as more:  # theme and brand come cached
        assert found.theme.pk == expected.theme.pk == theme.pk
        assert found.theme.ip_profile_id == expected.theme.ip_profile_id
        assert found.theme.ip_profile.taboos == expected.theme.ip_profile.taboos == taboos
    assert len(more) == 0
    assert found.theme.get_deferred_fields() == expected.theme.get_deferred_fields()
    assert (
        found.theme.ip_profile.get_deferred_fields()
        == expected.theme.ip_profile.get_deferred_fields()
    )
    assert found._state.adding is False and found._state.db == "default"
    # The same lock clause as the ORM's (FOR UPDATE OF the idea on PostgreSQL, none on
    # SQLite, where the IMMEDIATE transaction is the lock).
    (our_sql,) = [q["sql"] for q in ours.captured_queries if q["sql"].startswith("SELECT")]
    (orm_sql,) = [q["sql"] for q in orm.captured_queries if q["sql"].startswith("SELECT")]
    assert our_sql.partition(" FOR UPDATE")[1:] == orm_sql.partition(" FOR UPDATE")[1:]


def test_the_locked_read_of_a_missing_idea_raises_as_get_does():
    with transaction.atomic(), pytest.raises(Idea.DoesNotExist):
        _idea_locked_read(987_654)


def test_the_edits_update_and_change_rows_store_what_save_and_bulk_create_did():
    theme = ThemeFactory()
    with time_machine.travel(WHEN - dt.timedelta(days=1), tick=False):
        ours = IdeaFactory(theme=theme, title="Ours", summary="old", novelty=2.0)
        orms = IdeaFactory(theme=theme, title="Orms", summary="old", novelty=2.0)
    stored = []
    for idea, write in ((ours, "ours"), (orms, "orm")):
        with transaction.atomic(), time_machine.travel(WHEN, tick=False):
            locked = Idea.objects.select_for_update().get(pk=idea.pk)
            changes = [
                _change(locked, "summary", locked.summary, "新しい | summary", 9, None, "why"),
                _change(locked, "novelty", 2.0, 8.5, 9, None, "why"),
            ]
            locked.summary, locked.novelty = "新しい | summary", 8.5
            if write == "ours":
                _save_with_changes(locked, changes, 9)
            else:  # the ORM form it replaced
                locked.updated_by_iteration_id = 9
                portfolio._priority_refresh(locked)
                locked.save(
                    update_fields=[
                        "novelty",
                        "priority",
                        "summary",
                        "updated_at",
                        "updated_by_iteration_id",
                    ]
                )
                IdeaChange.objects.bulk_create(changes)
            assert all(change.pk for change in changes)
        row = Idea.objects.filter(pk=idea.pk).values().get()
        rows = list(
            IdeaChange.objects.filter(idea=idea).order_by("pk").values("field", "old", "new")
        )
        times = set(IdeaChange.objects.filter(idea=idea).values_list("at", flat=True))
        stored.append((row, rows, times))
    (ours_row, ours_changes, ours_at), (orm_row, orm_changes, orm_at) = stored
    for key in ("id", "title", "fingerprint"):
        ours_row.pop(key), orm_row.pop(key)
    assert ours_row == orm_row
    assert ours_row["updated_at"] == WHEN and ours_row["priority"] == orm_row["priority"]
    assert ours_changes == orm_changes and ours_at == orm_at == {WHEN}


def test_an_update_of_a_row_gone_fails_as_save_does():
    idea = IdeaFactory(theme=ThemeFactory())
    Idea.objects.filter(pk=idea.pk).delete()
    idea.summary = "x"
    with pytest.raises(Exception, match="did not affect any rows"), transaction.atomic():
        _save_with_changes(idea, [], None)


def _orm_tags_resolve(theme, names: list[str]) -> list[Tag]:
    """The ORM form ``_tags_resolve`` replaced."""
    wanted = sorted({portfolio.tag_normalise(n) for n in names if portfolio.tag_normalise(n)})
    Tag.objects.bulk_create([Tag(theme=theme, name=n) for n in wanted], ignore_conflicts=True)
    return list(Tag.objects.filter(theme=theme, name__in=wanted).order_by("name"))


def _tags(tags: list[Tag]) -> list[tuple]:
    return [(t.pk, t.theme_id, t.name, t.visible_ideas) for t in tags]


def test_tags_resolve_finds_and_creates_what_the_orm_form_did():
    theme, twin = ThemeFactory(), ThemeFactory(status="archived")
    for one in (theme, twin):
        Tag.objects.create(theme=one, name="mug", visible_ideas=4)
        Tag.objects.create(theme=one, name="tea-cup")
    # Another theme's tag stays out.
    Tag.objects.create(theme=ThemeFactory(status="archived"), name="new")
    names = ["Tea Cup", "mug", "ＮＥＷ", "new", " ", "茶"]
    with transaction.atomic():
        ours = _tags_resolve(theme=theme, names=names)
        orms = _orm_tags_resolve(twin, names)
    assert [(t.name, t.visible_ideas) for t in ours] == [(t.name, t.visible_ideas) for t in orms]
    assert [t.name for t in ours] == ["mug", "new", "tea-cup", "茶"]
    assert _tags(ours) == _tags(Tag.objects.filter(theme=theme).order_by("name"))
    assert all(t._state.adding is False for t in ours)
    with transaction.atomic():  # again: every tag found, none created twice
        again = _tags_resolve(theme=theme, names=names)
    assert _tags(again) == _tags(ours)
    assert _tags_resolve(theme=theme, names=[" ", ""]) == []


def test_a_tag_created_concurrently_between_read_and_insert_is_read_not_doubled(monkeypatch):
    theme = ThemeFactory()
    existing = Tag.objects.create(theme=theme, name="mug", visible_ideas=2)
    reads = []
    original = portfolio._tags_read

    def read_missing_first(*, theme_id, names):
        reads.append(list(names))
        # The first read happens before the concurrent writer's insert commits.
        return [] if len(reads) == 1 else original(theme_id=theme_id, names=names)

    monkeypatch.setattr(portfolio, "_tags_read", read_missing_first)
    with transaction.atomic():
        found = _tags_resolve(theme=theme, names=["mug", "cup"])
    assert reads == [["cup", "mug"], ["mug"]]
    assert [(t.name, t.pk == existing.pk) for t in found] == [("cup", False), ("mug", True)]
    assert Tag.objects.filter(theme=theme).count() == 2


def test_tag_links_write_leaves_the_links_tags_set_leaves():
    theme = ThemeFactory()
    a, b, c, d = (Tag.objects.create(theme=theme, name=n) for n in "abcd")
    ours = IdeaFactory(theme=theme, tags=["a", "b", "c"])
    orms = IdeaFactory(theme=theme, tags=["a", "b", "c"])
    other = IdeaFactory(theme=theme, tags=["a", "b"])  # another idea's links stay
    with transaction.atomic():
        _tag_links_write(idea_id=ours.pk, remove=[b.pk, c.pk], add=[d.pk])
        orms.tags.set([a, d])
    assert sorted(ours.tags.values_list("pk", flat=True)) == [a.pk, d.pk]
    assert sorted(orms.tags.values_list("pk", flat=True)) == [a.pk, d.pk]
    assert sorted(other.tags.values_list("pk", flat=True)) == [a.pk, b.pk]
    with transaction.atomic():  # a link that exists by now is skipped, not an error
        _tag_links_write(idea_id=ours.pk, remove=[], add=[a.pk, d.pk])
    assert sorted(ours.tags.values_list("pk", flat=True)) == [a.pk, d.pk]


def test_tag_links_read_is_the_related_managers_values_list():
    theme = ThemeFactory()
    idea = IdeaFactory(theme=theme, tags=["zeta", "茶", "alpha", "mid"])
    IdeaFactory(theme=theme, tags=["alpha", "other"])  # another idea's links stay out
    bare = IdeaFactory(theme=theme)
    assert _tag_links_read(idea_id=idea.pk) == list(idea.tags.values_list("pk", "name"))
    assert [name for _, name in _tag_links_read(idea_id=idea.pk)] == [
        "alpha",
        "mid",
        "zeta",
        "茶",
    ]
    assert _tag_links_read(idea_id=bare.pk) == list(bare.tags.values_list("pk", "name")) == []


def test_a_change_row_names_a_saved_person_only(alice):
    idea = IdeaFactory(theme=ThemeFactory())
    by_person = _change(idea, "summary", "a", "b", 3, alice, "r" * 700)
    anonymous = _change(idea, "summary", "a", "b", None, AnonymousUser(), "")
    assert (by_person.idea_id, by_person.actor_id, len(by_person.reason)) == (
        idea.pk,
        alice.pk,
        600,
    )
    assert anonymous.actor_id is None and anonymous.iteration_id is None
