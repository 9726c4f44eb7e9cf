"""Decision mails, reminders and Telegram messages are written per recipient in their own
language (``message_language``: their Profile, else BIZAGENT_LANGUAGE). Expected texts
are ``gettext`` of the msgid under each language, over the pseudo-Japanese catalogue, so
the tests hold before and after the real Japanese is merged."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone, translation
from django.utils.translation import gettext

from decisions.services.person import person_language_set
from decisions.services.telegram import telegram_outbox_deliver
from decisions.tasks import decision_notify_task
from tests.bizagent.i18n_pseudo import pseudo_ja  # noqa: F401  (the fixture)
from tests.decisions.test_telegram_decisions import link
from tests.personas import person_create

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("pseudo_ja")]
ALICE_TG, BOB_TG = 7101, 7102


def said(msgid: str, language: str) -> str:
    with translation.override(language):
        return gettext(msgid)


@pytest.fixture
def bob(db):
    """A second approver (the decisions persona bob may not decide)."""
    return person_create("bob", permissions=["decisions.approve_decision"])


@pytest.fixture
def alice_ja_bob_en(alice, bob, settings):
    settings.LANGUAGE_CODE = "en"  # BIZAGENT_LANGUAGE: alice's Japanese is her own
    person_language_set(user=alice, language="ja")
    person_language_set(user=bob, language="en")
    assert said("A decision needs your answer.", "ja") != said(
        "A decision needs your answer.", "en"
    )


@pytest.mark.usefixtures("alice_ja_bob_en")
@pytest.mark.parametrize("event", ["requested", "reminder"])
def test_each_approver_gets_the_same_decision_in_their_own_language(
    make_decision, smtp_server, event
):
    decision = make_decision(title="Connect Stripe", due_at=timezone.now() + timedelta(hours=4))
    decision_notify_task(decision.pk, event)
    mails = {m.message["To"]: m for m in smtp_server.messages}
    assert set(mails) == {"alice@example.com", "bob@example.com"}
    subject = {"requested": "Decision needed: {title}", "reminder": None}[event] or (
        "Reminder, decision still open: {title}"
    )
    for address, language in (("alice@example.com", "ja"), ("bob@example.com", "en")):
        mail = mails[address]
        assert str(mail.message["Subject"]).strip() == said(subject, language).format(
            title="Connect Stripe"
        )
        html = mail.part("text/html")
        assert f'<html lang="{language}">' in html
        for body in (mail.part("text/plain"), html):
            assert "Connect Stripe" in body
    assert said("Hello %(name)s,", "en") % {"name": "bob"} in mails["bob@example.com"].part(
        "text/plain"
    )
    assert said("Hello %(name)s,", "ja") % {"name": "alice"} in mails["alice@example.com"].part(
        "text/plain"
    )


@pytest.mark.usefixtures("alice_ja_bob_en")
def test_someone_who_chose_nothing_reads_bizagent_language(
    alice, make_decision, smtp_server, settings
):
    person_language_set(user=alice, language="")
    settings.LANGUAGE_CODE = "ja"
    decision = make_decision(title="Connect Stripe")
    decision_notify_task(decision.pk, "requested")
    mails = {m.message["To"]: m for m in smtp_server.messages}
    assert said("Hello %(name)s,", "ja") % {"name": "alice"} in mails["alice@example.com"].part(
        "text/plain"
    )
    assert said("Hello %(name)s,", "en") % {"name": "bob"} in mails["bob@example.com"].part(
        "text/plain"
    )


@pytest.mark.usefixtures("alice_ja_bob_en")
def test_telegram_messages_and_buttons_are_in_each_readers_language(
    telegram, alice, bob, make_decision
):
    link(alice, ALICE_TG)
    link(bob, BOB_TG)
    decision = make_decision(title="Connect Stripe", due_at=timezone.now() + timedelta(hours=4))
    decision_notify_task(decision.pk, "requested")
    telegram_outbox_deliver()
    sent = {m["chat"]["id"]: m for m in telegram.sent}
    for chat, language in ((ALICE_TG, "ja"), (BOB_TG, "en")):
        assert [label for label, _ in telegram.buttons(sent[chat])][-1] == said("Reject", language)
        assert "Connect Stripe" in sent[chat]["text"]
    decision_notify_task(decision.pk, "reminder")
    telegram_outbox_deliver(now=timezone.now() + timedelta(seconds=2))  # a second per chat
    reminders = [m for m in telegram.sent if m not in sent.values()]
    texts = {m["chat"]["id"]: m["text"] for m in reminders}
    assert said("Reminder: this decision is still open.", "ja") in texts[ALICE_TG]
    assert said("Reminder: this decision is still open.", "en") in texts[BOB_TG]


@pytest.mark.usefixtures("alice_ja_bob_en")
def test_a_notice_composed_per_reader_goes_out_in_each_language(telegram, alice, bob):
    from decisions.models import TelegramLink
    from decisions.services.telegram import telegram_notice_send

    link(alice, ALICE_TG)
    link(bob, BOB_TG)
    links = TelegramLink.objects.select_related("user")
    msgid = "Nothing was done: it waited past its due time without an answer."
    assert len(telegram_notice_send(links=links, text=lambda: gettext(msgid), key="test:1")) == 2
    telegram_outbox_deliver()
    texts = {m["chat"]["id"]: m["text"] for m in telegram.sent}
    assert texts == {ALICE_TG: said(msgid, "ja"), BOB_TG: said(msgid, "en")}
