"""The mail and Sheets outboxes claim rows with a lease that expires (bizagent.leases):
a live claim keeps a row from a second sender, a lapsed one (its worker died) does not."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from decisions.mirror import CLAIM_LEASE, _rows_claim, sheet_row_enqueue
from decisions.models import DecisionMail, SheetRow
from decisions.services.mail import MAIL_LEASE, decision_notify

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


def _unsent_mail_held_by_a_dead_or_live_worker(
    decision, recipient, *, expires_in: timedelta
) -> DecisionMail:
    # The first delivery recorded the mail and took its lease, then its worker stopped
    # (killed mid-send) before marking it sent.
    mail = DecisionMail.objects.get(decision=decision, recipient=recipient, event="requested")
    DecisionMail.objects.filter(pk=mail.pk).update(
        sent_at=None, lease_owner="dead-worker:1:abc", lease_expires_at=timezone.now() + expires_in
    )
    return mail


def test_a_mail_another_delivery_is_sending_is_not_sent_twice(
    alice, smtp_server, make_decision, q_sync
):
    decision = make_decision()
    assert len(smtp_server.messages) == 1
    mail = _unsent_mail_held_by_a_dead_or_live_worker(decision, alice, expires_in=MAIL_LEASE)

    assert decision_notify(decision_id=decision.pk, event="requested") == 0

    assert len(smtp_server.messages) == 1
    mail.refresh_from_db()
    assert mail.sent_at is None and mail.lease_owner == "dead-worker:1:abc"


def test_a_mail_whose_sender_died_is_sent_once_its_lease_lapsed(
    alice, smtp_server, make_decision, q_sync
):
    decision = make_decision()
    mail = _unsent_mail_held_by_a_dead_or_live_worker(
        decision, alice, expires_in=-timedelta(seconds=1)
    )

    assert decision_notify(decision_id=decision.pk, event="requested") == 1

    assert len(smtp_server.messages) == 2
    mail.refresh_from_db()
    assert mail.sent_at is not None
    assert (mail.lease_owner, mail.lease_expires_at) == ("", None)


def test_a_sent_mail_holds_no_lease(alice, smtp_server, make_decision, q_sync):
    decision = make_decision()
    mail = DecisionMail.objects.get(decision=decision, recipient=alice)
    assert mail.sent_at is not None
    assert (mail.lease_owner, mail.lease_expires_at) == ("", None)


def _row(n: int = 0) -> SheetRow:
    return sheet_row_enqueue(
        tab="decision_log", uuid=f"00000000-0000-0000-0000-{n:012d}", values=["t", "a"]
    )


def test_a_claimed_sheet_row_carries_its_lease_expiry():
    row = _row()
    now = timezone.now()

    token, rows = _rows_claim(now=now, limit=10)

    assert [r.pk for r in rows] == [row.pk]
    row.refresh_from_db()
    assert row.claim == token
    assert row.claim_expires_at == now + CLAIM_LEASE


def test_a_live_sheet_row_claim_is_not_taken_and_a_lapsed_one_is():
    row = _row()
    now = timezone.now()
    first, _ = _rows_claim(now=now, limit=10)

    # Due again by its backoff, but its sync is still at work: not claimable.
    SheetRow.objects.filter(pk=row.pk).update(next_attempt_at=now)
    _, rows = _rows_claim(now=now + CLAIM_LEASE - timedelta(seconds=1), limit=10)
    assert rows == []

    # That sync died: once the lease lapsed another sync takes the row over.
    second, rows = _rows_claim(now=now + CLAIM_LEASE + timedelta(seconds=1), limit=10)
    assert [r.pk for r in rows] == [row.pk]
    row.refresh_from_db()
    assert row.claim == second != first
