"""Decisions over Telegram: a new decision reaches each linked approver as one message
with a button per option plus Reject (never the model's analysis); a press decides
through ``decision_approve``/``decision_reject`` with ``via = telegram``, is always
answered, and the message is edited to say what happened, or why nothing did."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.core import mail
from django.utils import timezone

from decisions.models import AuditEvent, Decision, TelegramButton
from decisions.services.telegram import (
    telegram_link_bind,
    telegram_link_token_issue,
    telegram_outbox_deliver,
    telegram_update_handle,
)
from decisions.tasks import decision_notify_task
from tests.concurrency import run_together
from tests.decisions.telegram_fake import FakeTelegram

ALICE_TG = 7001
BOB_TG = 7002
OUTSIDER_TG = 7999
ANALYSIS = "INTERNAL: the model thinks the approver will not read this"


def link(user, telegram_id: int) -> None:
    telegram_link_bind(
        token=telegram_link_token_issue(user=user),
        telegram_user_id=telegram_id,
        chat_id=telegram_id,
    )


def asked(fake: FakeTelegram, make_decision, **overrides) -> tuple[Decision, dict]:
    """A new decision, notified and delivered; its message to alice."""
    decision = make_decision(
        model_analysis=ANALYSIS, due_at=timezone.now() + timedelta(hours=4), **overrides
    )
    decision_notify_task(decision.pk, "requested")
    telegram_outbox_deliver()
    [message] = [m for m in fake.sent if m["chat"]["id"] == ALICE_TG]
    return decision, message


def press(fake: FakeTelegram, message: dict, label: str, *, user_id: int = ALICE_TG) -> str:
    data = dict(fake.buttons(message))[label]
    return telegram_update_handle(update=fake.press(user_id=user_id, data=data, message=message))


@pytest.mark.django_db
def test_a_new_decision_reaches_linked_approvers_with_a_button_per_option(
    telegram, alice, bob, make_decision
):
    link(alice, ALICE_TG)
    link(bob, BOB_TG)  # linked, but bob may not decide: he gets nothing
    decision, message = asked(telegram, make_decision, title="Connect Stripe")
    text = message["text"]
    for part in (
        "Connect Stripe",
        "Sales need card payments",
        "Cards work",
        "Bank transfer only",
        "Recommendation: Connect it",
        "Decide by",
    ):
        assert part in text
    assert ANALYSIS not in text and "INTERNAL" not in text
    assert [label for label, _ in telegram.buttons(message)] == [
        "Connect it",
        "Do not connect",
        "Reject",
    ]
    for _, data in telegram.buttons(message):
        assert len(data.encode()) <= 64 and str(decision.pk) not in data.split("-")
        assert TelegramButton.objects.get(handle=data).decision == decision
    assert [m["chat"]["id"] for m in telegram.sent] == [ALICE_TG]
    # Email is unchanged: the approver is mailed as before.
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]


@pytest.mark.django_db
def test_a_redelivered_notify_and_each_reminder(telegram, alice, make_decision):
    link(alice, ALICE_TG)
    decision, _ = asked(telegram, make_decision)
    decision_notify_task(decision.pk, "requested")
    Decision.objects.filter(pk=decision.pk).update(reminders_sent=1)
    decision_notify_task(decision.pk, "reminder")
    decision_notify_task(decision.pk, "reminder")
    telegram_outbox_deliver(now=timezone.now() + timedelta(seconds=2))
    assert len(telegram.sent) == 2
    assert telegram.sent[1]["text"].startswith("Reminder: this decision is still open.")


@pytest.mark.django_db
def test_a_button_press_approves_with_via_telegram_in_the_audit_row(telegram, alice, make_decision):
    link(alice, ALICE_TG)
    decision, message = asked(telegram, make_decision)
    assert press(telegram, message, "Connect it") == "decided"
    decision.refresh_from_db()
    assert decision.status in (Decision.Status.APPROVED, Decision.Status.APPLIED)
    assert decision.chosen_option == "approve" and decision.decided_by == alice
    event = AuditEvent.objects.get(action="decisions.decision_approved")
    assert event.actor == alice and event.data["via"] == "telegram"
    assert telegram.answers[-1]["text"] == "Approved by alice: Connect it"
    edit = telegram.edits[-1]
    assert edit["message_id"] == message["message_id"]
    assert edit["text"].endswith("Approved by alice: Connect it")
    assert edit["reply_markup"] == {"inline_keyboard": []}


@pytest.mark.django_db
def test_reject_and_a_non_proceeding_option_reject(telegram, alice, make_decision):
    link(alice, ALICE_TG)
    first, message = asked(telegram, make_decision)
    assert press(telegram, message, "Reject") == "decided"
    first.refresh_from_db()
    assert first.status == Decision.Status.REJECTED
    assert AuditEvent.objects.get(action="decisions.decision_rejected").data["via"] == "telegram"
    telegram.sent.clear()
    # A second later: one message a second to one chat.
    with time_machine.travel(timezone.now() + timedelta(seconds=2)):
        second, message = asked(telegram, make_decision)
        assert press(telegram, message, "Do not connect") == "decided"
    second.refresh_from_db()
    assert (second.status, second.chosen_option) == (Decision.Status.REJECTED, "reject")


@pytest.mark.django_db
def test_a_press_from_an_unlinked_or_another_account_changes_nothing(
    telegram, alice, bob, make_decision
):
    link(alice, ALICE_TG)
    link(bob, BOB_TG)
    decision, message = asked(telegram, make_decision)
    assert press(telegram, message, "Connect it", user_id=OUTSIDER_TG) == "not_linked"
    assert press(telegram, message, "Connect it", user_id=BOB_TG) == "not_linked"
    decision.refresh_from_db()
    assert decision.status == Decision.Status.PENDING
    assert len(telegram.answers) == 2
    assert all("not linked" in a["text"] for a in telegram.answers)
    assert not AuditEvent.objects.filter(action="decisions.decision_approved").exists()


@pytest.mark.django_db
def test_a_press_after_the_permission_was_withdrawn_is_refused(telegram, alice, make_decision):
    link(alice, ALICE_TG)
    decision, message = asked(telegram, make_decision)
    alice.user_permissions.remove(Permission.objects.get(codename="approve_decision"))
    assert press(telegram, message, "Connect it") == "not_permitted"
    decision.refresh_from_db()
    assert decision.status == Decision.Status.PENDING
    assert telegram.answers[-1]["text"] == "You are not allowed to decide on approvals."
    assert "not allowed" in telegram.edits[-1]["text"]


@pytest.mark.django_db
def test_a_press_after_expiry_is_refused(telegram, alice, make_decision):
    link(alice, ALICE_TG)
    decision, message = asked(telegram, make_decision)
    with time_machine.travel(decision.due_at + timedelta(minutes=1)):
        assert press(telegram, message, "Connect it") == "expired"
    decision.refresh_from_db()
    assert decision.status == Decision.Status.PENDING
    assert "expired" in telegram.answers[-1]["text"]
    assert telegram.edits[-1]["reply_markup"] == {"inline_keyboard": []}


@pytest.mark.django_db
def test_a_forged_handle_changes_nothing_and_is_answered(telegram, alice, make_decision):
    link(alice, ALICE_TG)
    decision, message = asked(telegram, make_decision)
    update = telegram.press(user_id=ALICE_TG, data="forged-handle-" + "x" * 40, message=message)
    assert telegram_update_handle(update=update) == "unknown"
    decision.refresh_from_db()
    assert decision.status == Decision.Status.PENDING
    assert telegram.answers[-1]["text"] == "This button is not valid."


@pytest.mark.django_db
def test_a_replayed_press_after_the_decision_changes_nothing(telegram, alice, make_decision):
    link(alice, ALICE_TG)
    _decision, message = asked(telegram, make_decision)
    press(telegram, message, "Connect it")
    assert press(telegram, message, "Reject") == "closed"
    assert (
        AuditEvent.objects.filter(
            action__in=["decisions.decision_approved", "decisions.decision_rejected"]
        ).count()
        == 1
    )
    assert "Already decided" in telegram.answers[-1]["text"]


@pytest.mark.django_db(transaction=True)
def test_two_presses_at_once_make_one_outcome_and_one_audit_row(telegram, alice, make_decision):
    link(alice, ALICE_TG)
    decision, message = asked(telegram, make_decision)
    labels = ["Connect it", "Reject"]
    results, errors = run_together(lambda i: press(telegram, message, labels[i]), 2)
    assert errors == []
    assert sorted(results) == ["closed", "decided"]
    decided = AuditEvent.objects.filter(
        action__in=["decisions.decision_approved", "decisions.decision_rejected"]
    )
    assert decided.count() == 1
    assert len(telegram.answers) == 2
    decision.refresh_from_db()
    assert decision.status != Decision.Status.PENDING


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_presses_at_once_on_postgresql_make_one_outcome_and_one_audit_row(
    telegram, alice, make_decision
):
    """Real threads, each on its own PostgreSQL connection: the compare-and-set in
    ``decision_approve``/``decision_reject`` lets one press decide; the others are told
    it was already decided."""
    link(alice, ALICE_TG)
    decision, message = asked(telegram, make_decision)
    labels = ["Connect it", "Reject", "Connect it", "Reject"]
    results, errors = run_together(lambda i: press(telegram, message, labels[i]), 4)
    assert errors == []
    assert sorted(results) == ["closed", "closed", "closed", "decided"]
    decided = AuditEvent.objects.filter(
        action__in=["decisions.decision_approved", "decisions.decision_rejected"]
    )
    assert decided.count() == 1
    assert decided.get().data.get("via") == "telegram"
    assert len(telegram.answers) == 4
    decision.refresh_from_db()
    assert decision.status != Decision.Status.PENDING
