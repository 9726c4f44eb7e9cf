"""A decision whose mail reaches nobody says so: on the decision (its admin page and the
approval queue), in a WARNING log line and in an audit row. Reminders deliver it once an
approver can be mailed, and then the note goes."""

from __future__ import annotations

import logging

import pytest
from django.contrib.auth.models import Permission, User

from decisions.models import AuditEvent, Decision
from decisions.services.mail import decision_notify

pytestmark = pytest.mark.django_db(transaction=True)

NO_ADDRESS = "Not delivered to anyone: no approver has an email address."
NO_APPROVER = "Not delivered to anyone: nobody holds the approve permission."


@pytest.fixture
def quiet(db) -> User:
    """The only approver, without an email address (she may use the admin)."""
    user = User.objects.create_user("quiet", "", "pw-quiet-123", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["approve_decision", "view_decision"])
    )
    return User.objects.get(pk=user.pk)


def test_a_decision_no_approver_can_be_mailed_says_so(
    quiet, smtp_server, q_sync, make_decision, caplog, client
):
    with caplog.at_level(logging.WARNING, logger="decisions.services.mail"):
        decision = make_decision(title="Connect Stripe")
    assert smtp_server.messages == []
    decision.refresh_from_db()
    assert decision.undelivered_reason == NO_ADDRESS
    [warning] = [r for r in caplog.records if r.name == "decisions.services.mail"]
    assert warning.levelno == logging.WARNING
    assert f"decision {decision.pk}" in warning.getMessage()
    assert NO_ADDRESS in warning.getMessage()
    [row] = AuditEvent.objects.filter(action="decisions.decision_undelivered")
    assert (row.subject_id, row.data) == (
        str(decision.pk),
        {"event": "requested", "reason": NO_ADDRESS},
    )

    client.force_login(quiet)
    page = client.get(f"/admin/decisions/decision/{decision.pk}/change/").content.decode()
    assert NO_ADDRESS in page
    queue = client.get("/admin/decisions/decision/queue/").content.decode()
    assert NO_ADDRESS in queue

    # Asked again (a redelivered task, a reminder): still nobody, no second audit row.
    assert decision_notify(decision_id=decision.pk, event="reminder") == 0
    assert AuditEvent.objects.filter(action="decisions.decision_undelivered").count() == 1


def test_no_approver_at_all_is_named_as_such(smtp_server, q_sync, make_decision, bob):
    decision = make_decision()
    decision.refresh_from_db()
    assert decision.undelivered_reason == NO_APPROVER


def test_a_reminder_delivers_it_once_an_approver_can_be_mailed(
    quiet, smtp_server, q_sync, make_decision
):
    decision = make_decision()
    quiet.email = "quiet@example.com"
    quiet.save()
    assert decision_notify(decision_id=decision.pk, event="reminder") == 1
    assert [mail.rcpt_tos for mail in smtp_server.messages] == [["quiet@example.com"]]
    decision.refresh_from_db()
    assert decision.undelivered_reason == ""
    [row] = AuditEvent.objects.filter(action="decisions.decision_delivered")
    assert row.data == {"event": "reminder", "recipients": 1}


def test_a_delivered_decision_carries_no_note(alice, smtp_server, q_sync, make_decision):
    decision = make_decision()
    assert decision_notify(decision_id=decision.pk, event="requested") == 0  # redelivered
    decision.refresh_from_db()
    assert decision.undelivered_reason == ""
    assert not AuditEvent.objects.filter(
        action__in=["decisions.decision_undelivered", "decisions.decision_delivered"]
    ).exists()
    assert Decision.objects.get(pk=decision.pk).status == Decision.Status.PENDING
