"""bizagent.leases: claim where free or lapsed, renew and release only by the holder."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from bizagent.leases import (
    LeaseFields,
    lease_claim,
    lease_claim_returning,
    lease_release,
    lease_release_row,
    lease_renew,
)
from decisions.models import SheetRow

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

# SheetRow's claim column holds None when free: the helper handles both conventions.
FIELDS = LeaseFields(owner="claim", expires_at="claim_expires_at", unowned=None)
A = "00000000-0000-0000-0000-00000000000a"
B = "00000000-0000-0000-0000-00000000000b"
MINUTE = timedelta(minutes=1)


@pytest.fixture
def row():
    return SheetRow.objects.create(tab="t", uuid="00000000-0000-0000-0000-000000000001", values=[])


def _rows(row):
    return SheetRow.objects.filter(pk=row.pk)


def test_a_free_row_is_claimed_once(row):
    now = timezone.now()
    assert lease_claim(_rows(row), owner=A, now=now, duration=MINUTE, fields=FIELDS) == 1
    assert lease_claim(_rows(row), owner=B, now=now, duration=MINUTE, fields=FIELDS) == 0
    row.refresh_from_db()
    assert (str(row.claim), row.claim_expires_at) == (A, now + MINUTE)


def test_a_lapsed_lease_is_taken_over_unless_told_not_to(row):
    now = timezone.now()
    lease_claim(_rows(row), owner=A, now=now, duration=MINUTE, fields=FIELDS)
    later = now + 2 * MINUTE
    assert (
        lease_claim(
            _rows(row), owner=B, now=later, duration=MINUTE, fields=FIELDS, take_lapsed=False
        )
        == 0
    )
    assert lease_claim(_rows(row), owner=B, now=later, duration=MINUTE, fields=FIELDS) == 1
    row.refresh_from_db()
    assert str(row.claim) == B


def test_changes_are_written_with_the_claim_and_the_release(row):
    now = timezone.now()
    lease_claim(_rows(row), owner=A, now=now, duration=MINUTE, fields=FIELDS, attempts=3)
    assert lease_release(_rows(row), owner=B, fields=FIELDS, status="sent") == 0
    assert lease_release(_rows(row), owner=A, fields=FIELDS, status="sent") == 1
    row.refresh_from_db()
    assert (row.attempts, row.status, row.claim, row.claim_expires_at) == (3, "sent", None, None)


def test_only_the_holder_renews(row):
    now = timezone.now()
    lease_claim(_rows(row), owner=A, now=now, duration=MINUTE, fields=FIELDS)
    assert lease_renew(_rows(row), owner=B, now=now, duration=5 * MINUTE, fields=FIELDS) == 0
    assert lease_renew(_rows(row), owner=A, now=now, duration=5 * MINUTE, fields=FIELDS) == 1
    row.refresh_from_db()
    assert row.claim_expires_at == now + 5 * MINUTE


def test_a_claim_returning_gives_the_rows_as_claimed_in_one_statement(
    row, django_assert_num_queries
):
    """The same compare-and-set, with the claimed rows read back by the same statement,
    every column converted as a query would (UUID, datetime, JSON)."""
    SheetRow.objects.filter(pk=row.pk).update(values=["a", {"b": 1}])
    now = timezone.now()
    with django_assert_num_queries(1):
        [claimed] = lease_claim_returning(
            _rows(row), owner=A, now=now, duration=MINUTE, fields=FIELDS, attempts=2
        )
    stored = SheetRow.objects.get(pk=row.pk)
    assert claimed.pk == row.pk
    assert (str(claimed.claim), claimed.claim_expires_at, claimed.attempts) == (
        A,
        now + MINUTE,
        2,
    )
    assert claimed.values == stored.values == ["a", {"b": 1}]
    assert claimed.claim == stored.claim
    with django_assert_num_queries(1):
        taken = lease_claim_returning(_rows(row), owner=B, now=now, duration=MINUTE, fields=FIELDS)
    assert taken == []
    assert str(SheetRow.objects.get(pk=row.pk).claim) == A


def test_a_row_released_by_hand_is_what_lease_release_writes(row, django_assert_num_queries):
    """``lease_release_row`` (one written-out statement) against ``lease_release`` on a
    twin row: only the holder releases, only while ``still`` holds, the same columns."""
    twin = SheetRow.objects.create(tab="t", uuid="00000000-0000-0000-0000-000000000002", values=[])
    now = timezone.now()
    for each in (row, twin):
        lease_claim(_rows(each), owner=A, now=now, duration=MINUTE, fields=FIELDS, attempts=2)
    assert lease_release_row(SheetRow, pk=row.pk, owner=B, fields=FIELDS, status="sent") == 0
    stale = {"status": "sent"}  # the row is still pending: the release must not happen
    assert lease_release_row(SheetRow, pk=row.pk, owner=A, still=stale, fields=FIELDS) == 0
    with django_assert_num_queries(1):
        assert (
            lease_release_row(
                SheetRow,
                pk=row.pk,
                owner=A,
                still={"status": row.status},
                fields=FIELDS,
                status="sent",
                attempts=3,
            )
            == 1
        )
    assert lease_release(_rows(twin), owner=A, fields=FIELDS, status="sent", attempts=3) == 1
    row.refresh_from_db()
    twin.refresh_from_db()
    for name in ("claim", "claim_expires_at", "status", "attempts", "values"):
        assert getattr(row, name) == getattr(twin, name), name
    assert (row.claim, row.status) == (None, "sent")
    with pytest.raises(ValueError, match="by its owner"):
        lease_release_row(SheetRow, pk=row.pk, owner=None, fields=FIELDS)
