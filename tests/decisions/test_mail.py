"""Decision mails through a real SMTP server on loopback (aiosmtpd): who gets them, both
parts, the personal link, and exactly once per event even when the task comes twice."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission, User

from decisions.models import DecisionMail
from decisions.selectors import decision_mail_recipients
from decisions.services import decision_approve, decision_expire_due, decision_reject
from decisions.services.mail import decision_notify

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "SECRET-CHAIN-OF-THOUGHT"


def _links(text: str) -> list[str]:
    return re.findall(r"https?://\S+/link/\S+/", text)


def test_a_new_decision_mails_each_approver_once_with_both_parts(
    alice, bob, charlie, smtp_server, q_sync, make_decision, django_user_model
):
    root = django_user_model.objects.create_superuser("root", "root@example.com", "pw-root-123")
    django_user_model.objects.create_superuser("nomail", "", "pw-nomail-12")
    decision = make_decision(model_analysis=SECRET, title="Connect Stripe")
    received = smtp_server.messages
    assert sorted(address for mail in received for address in mail.rcpt_tos) == [
        "alice@example.com",
        "root@example.com",
    ]
    for mail in received:
        assert mail.message["Subject"] == "Decision needed: Connect Stripe"
        text, html = mail.part("text/plain"), mail.part("text/html")
        for body in (text, html):
            assert "Sales need card payments" in body
            assert "Connect it" in body and "Do not connect" in body
            assert SECRET not in body
        [link] = _links(text)
        assert link in html
    # Each recipient has a link of their own.
    assert len({_links(mail.part("text/plain"))[0] for mail in received}) == 2
    assert set(DecisionMail.objects.values_list("recipient__username", flat=True)) == {
        "alice",
        "root",
    }
    assert all(DecisionMail.objects.values_list("sent_at", flat=True))
    assert decision.pk and root.pk


def test_a_redelivered_task_sends_nothing_twice(alice, smtp_server, make_decision, q_sync):
    decision = make_decision()
    assert len(smtp_server.messages) == 1
    assert decision_notify(decision_id=decision.pk, event="requested") == 0
    assert len(smtp_server.messages) == 1


def test_the_approver_group_setting_picks_recipients(
    alice, bob, settings, smtp_server, q_sync, make_decision
):
    # The group narrows the approvers mailed: bob (in it, with the permission) is,
    # alice (an approver outside it) is not. See tests/decisions/test_approvers.py.
    group = Group.objects.create(name="owners")
    bob.groups.add(group)
    bob.user_permissions.add(Permission.objects.get(codename="approve_decision"))
    settings.APPROVER_GROUP = "owners"
    assert list(decision_mail_recipients()) == [bob]
    make_decision()
    assert [mail.rcpt_tos for mail in smtp_server.messages] == [["bob@example.com"]]


def test_a_permission_held_through_a_group_counts(charlie, smtp_server, q_sync, make_decision):
    group = Group.objects.create(name="approvers")
    group.permissions.add(Permission.objects.get(codename="approve_decision"))
    charlie.groups.add(group)
    make_decision()
    assert [mail.rcpt_tos for mail in smtp_server.messages] == [["charlie@example.com"]]


def test_inactive_approvers_get_nothing(alice, smtp_server, q_sync, make_decision):
    User.objects.filter(pk=alice.pk).update(is_active=False)
    make_decision()
    assert smtp_server.messages == []


def test_outcome_mails_say_what_happened_without_a_link(alice, smtp_server, q_sync, make_decision):
    approved = make_decision(title="Connect Stripe")
    rejected = make_decision(title="Buy a billboard")
    decision_approve(decision_id=approved.pk, user=alice, comment="fine")
    decision_reject(decision_id=rejected.pk, user=alice, comment="too dear")
    outcomes = {
        mail.message["Subject"]: mail
        for mail in smtp_server.messages
        if not mail.message["Subject"].startswith("Decision needed")
    }
    assert set(outcomes) == {
        "Decision applied: Connect Stripe",
        "Decision rejected: Buy a billboard",
    }
    billboard = outcomes["Decision rejected: Buy a billboard"].part("text/plain")
    assert "too dear" in billboard and "alice" in billboard
    assert _links(billboard) == []


def test_expiry_mail_says_it_was_held(alice, smtp_server, q_sync, make_decision):
    decision = make_decision(title="Mass send to 5,000")
    decision_expire_due(now=decision.due_at + timedelta(seconds=1))
    [expired] = [m for m in smtp_server.messages if "expired" in m.message["Subject"]]
    assert expired.message["Subject"] == "Decision expired without an answer: Mass send to 5,000"
    assert _links(expired.part("text/plain")) == []


def test_reminders_carry_a_fresh_link(alice, smtp_server, q_sync, make_decision):
    from decisions.services import decision_remind_due

    decision = make_decision()
    half = decision.requested_at + (decision.due_at - decision.requested_at) / 2
    decision_remind_due(now=half + timedelta(seconds=1))
    first, reminder = smtp_server.messages
    assert reminder.message["Subject"].startswith("Reminder, decision still open:")
    assert _links(reminder.part("text/plain")) != _links(first.part("text/plain"))


def test_no_link_mail_for_a_decision_that_closed_meanwhile(alice, smtp_server, make_decision):
    decision = make_decision()  # no q_sync: the mail task has not run yet
    decision_reject(decision_id=decision.pk, user=alice)
    assert decision_notify(decision_id=decision.pk, event="requested") == 0
    assert smtp_server.messages == []


def test_an_unknown_event_is_a_clear_error(make_decision):
    decision = make_decision()
    with pytest.raises(ValueError, match="unknown decision mail event 'party'"):
        decision_notify(decision_id=decision.pk, event="party")
