"""decisions.services.notify_prefs: one function says who hears of an event on which
channel, and the senders obey it. Defaults keep today's behaviour (decision mails, and
decisions with buttons on Telegram for a linked approver); a change is validated whole,
written and audited together; Telegram counts only for a linked account."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from decisions.models import AuditEvent, NotificationPreference, TelegramMessage
from decisions.services.decisions import decision_approve
from decisions.services.notify_prefs import (
    notify_prefs_get,
    notify_prefs_update,
    notify_recipients,
)
from decisions.services.telegram import (
    telegram_link_bind,
    telegram_link_token_issue,
    telegram_outbox_deliver,
    telegram_unlink,
)
from decisions.tasks import decision_notify_task
from tests.personas import person_create

pytestmark = pytest.mark.django_db
ALICE_TG = 8001


def link(user, telegram_id: int = ALICE_TG) -> None:
    telegram_link_bind(
        token=telegram_link_token_issue(user=user),
        telegram_user_id=telegram_id,
        chat_id=telegram_id,
    )


def test_the_defaults_keep_todays_behaviour(alice):
    prefs = notify_prefs_get(user=alice)
    assert prefs == {
        "requested": "both",
        "reminder": "both",
        "expired": "email",
        "outcome": "email",
        "goal_report": "email",
        "anomaly": "none",
    }
    # Not linked: decisions by email only, nothing on Telegram.
    requested = notify_recipients(event="requested")
    assert requested.email == [alice] and requested.telegram == []
    link(alice)
    requested = notify_recipients(event="requested")
    assert requested.email == [alice]
    assert [lnk.user_id for lnk in requested.telegram] == [alice.pk]
    assert notify_recipients(event="outcome").telegram == []


def test_a_change_is_written_and_audited_together_and_only_what_changed(alice):
    link(alice)
    changed = notify_prefs_update(
        user=alice, choices={"requested": "telegram", "outcome": "both", "expired": "email"}
    )
    assert changed == {"requested": ("both", "telegram"), "outcome": ("email", "both")}
    assert notify_prefs_get(user=alice)["requested"] == "telegram"
    event = AuditEvent.objects.get(action="decisions.notify_prefs_changed")
    assert event.data == {
        "requested": {"from": "both", "to": "telegram"},
        "outcome": {"from": "email", "to": "both"},
    }
    assert event.actor_id == alice.pk
    # The same choices again change nothing and add no audit row.
    assert notify_prefs_update(user=alice, choices={"requested": "telegram"}) == {}
    assert AuditEvent.objects.filter(action="decisions.notify_prefs_changed").count() == 1


def test_bad_choices_name_what_is_wrong_and_write_nothing(alice):
    with pytest.raises(ValidationError) as caught:
        notify_prefs_update(
            user=alice,
            choices={
                "outcome": "none",
                "fax": "email",
                "expired": "pigeon",
                "reminder": "telegram",
            },
        )
    text = " ".join(caught.value.messages)
    assert "“fax” is not a notification event" in text
    assert "“pigeon” is not a channel" in text
    assert "Reminder of an open decision: Telegram needs a linked account" in text
    with pytest.raises(ValidationError, match="choose one of Telegram, Nothing"):
        link(alice)
        notify_prefs_update(user=alice, choices={"anomaly": "email"})
    assert not NotificationPreference.objects.exists()
    assert not AuditEvent.objects.filter(action="decisions.notify_prefs_changed").exists()


def test_telegram_only_means_no_mail_and_unlinking_falls_back_to_email(
    alice, telegram, make_decision, django_capture_on_commit_callbacks
):
    link(alice)
    notify_prefs_update(user=alice, choices={"requested": "telegram"})
    decision = make_decision(due_at=timezone.now() + timedelta(hours=4))
    assert decision_notify_task(decision.pk, "requested") == 0
    assert mail.outbox == []
    decision.refresh_from_db()
    assert decision.undelivered_reason == ""  # it reached alice on Telegram: not a failure
    telegram_outbox_deliver()
    assert [m["chat"]["id"] for m in telegram.sent] == [ALICE_TG]

    telegram_unlink(user=alice)
    second = make_decision(title="Another", due_at=timezone.now() + timedelta(hours=4))
    assert decision_notify_task(second.pk, "requested") == 1
    assert [m.to for m in mail.outbox] == [[alice.email]]


def test_nothing_means_nothing_for_that_event_only(alice, make_decision):
    dora = person_create("dora", superuser=True)
    notify_prefs_update(user=alice, choices={"requested": "none"})
    decision = make_decision(due_at=timezone.now() + timedelta(hours=4))
    decision_notify_task(decision.pk, "requested")
    assert [m.to for m in mail.outbox] == [[dora.email]]
    decision_notify_task(decision.pk, "expired")
    assert sorted(m.to[0] for m in mail.outbox[1:]) == sorted([alice.email, dora.email])


def test_expiry_and_outcome_reach_telegram_for_those_who_chose_it(alice, telegram, make_decision):
    dora = person_create("dora", superuser=True)
    link(alice)
    link(dora, 8002)
    notify_prefs_update(user=alice, choices={"outcome": "telegram", "expired": "both"})
    decision = make_decision(title="Raise the price", due_at=timezone.now() + timedelta(hours=4))
    decision_approve(decision_id=decision.pk, user=dora, option_key="approve")
    decision_notify_task(decision.pk, "outcome")
    decision_notify_task(decision.pk, "outcome")  # redelivered: nothing twice
    decision_notify_task(decision.pk, "expired")
    notices = TelegramMessage.objects.filter(purpose="notice").order_by("id")
    assert [(n.chat_id, n.dedupe_key.split(":")[2]) for n in notices] == [
        (ALICE_TG, "outcome"),
        (ALICE_TG, "expired"),
    ]
    assert "Raise the price" in notices[0].text and notices[0].reply_markup == {}
    # Outcome by Telegram only: alice got no outcome mail, dora (default) did.
    outcome_mails = [m for m in mail.outbox if "Decision approved" in m.subject]
    assert [m.to for m in outcome_mails] == [[dora.email]]
    telegram_outbox_deliver()
    assert [m["chat"]["id"] for m in telegram.sent] == [ALICE_TG]


def test_when_every_approver_turned_decisions_off_the_decision_says_so(alice, make_decision):
    notify_prefs_update(user=alice, choices={"requested": "none"})
    decision = make_decision(due_at=timezone.now() + timedelta(hours=4))
    assert decision_notify_task(decision.pk, "requested") == 0
    decision.refresh_from_db()
    assert "every approver turned these notices off" in decision.undelivered_reason
