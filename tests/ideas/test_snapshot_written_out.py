"""The snapshot's own statements written out (``ideas.services.snapshots``): the read of
a snapshot already taken gives what ``.first()`` gave, and the insert stores what
``save()`` stored. Run on SQLite and on PostgreSQL (``DATABASE_URL=postgres://...``)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import ValidationError

from ideas.models import Snapshot
from ideas.services import snapshot_create
from ideas.services.snapshots import _snapshot_taken
from tests.ideas.factories import ThemeFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

WHEN = dt.datetime(2026, 4, 5, 6, 7, 8, 901_234, tzinfo=dt.UTC)


def _row(snapshot: Snapshot) -> dict:
    return {f.attname: getattr(snapshot, f.attname) for f in Snapshot._meta.concrete_fields}


def test_the_taken_read_is_the_orm_forms_first():
    theme, other = ThemeFactory(), ThemeFactory(status="archived")
    for one in (theme, other):
        for count in (10, 20):
            Snapshot.objects.create(
                theme=one, iteration_count=count, markdown=f"# {count} 茶", stats={"ideas": count}
            )
    found = _snapshot_taken(theme_id=theme.pk, iteration_count=20)
    expected = Snapshot.objects.filter(theme=theme, iteration_count=20).first()
    assert found is not None and expected is not None
    assert _row(found) == _row(expected)
    assert found.stats == {"ideas": 20} and found._state.adding is False
    assert _snapshot_taken(theme_id=theme.pk, iteration_count=30) is None


def test_the_snapshots_insert_stores_what_save_stored():
    theme = ThemeFactory()
    with time_machine.travel(WHEN, tick=False):
        ours = snapshot_create(theme=theme, iteration_count=10)
        orm = Snapshot(theme=theme, iteration_count=20, markdown=ours.markdown, stats=ours.stats)
        orm.save()
    assert ours.pk and ours._state.adding is False
    stored = [Snapshot.objects.filter(pk=s.pk).values().get() for s in (ours, orm)]
    for row in stored:
        row.pop("id"), row.pop("iteration_count")
    assert stored[0] == stored[1]
    assert stored[0]["created_at"] == WHEN
    assert snapshot_create(theme=theme, iteration_count=10).pk == ours.pk  # idempotent


def test_a_negative_iteration_count_is_refused_with_nothing_written():
    theme = ThemeFactory()
    with pytest.raises(ValidationError, match="iteration_count"):
        snapshot_create(theme=theme, iteration_count=-1)
    assert not Snapshot.objects.exists()
