"""Decision mails and Telegram messages are written in BIZAGENT_LANGUAGE (nobody has a
language of their own yet), through the catalogue: checked with pseudo-Japanese."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.template.loader import render_to_string
from django.utils import timezone, translation

from decisions.services.telegram import telegram_outbox_deliver
from decisions.tasks import decision_notify_task
from tests.bizagent.i18n_pseudo import pseudo, pseudo_ja  # noqa: F401  (the fixture)
from tests.decisions.test_telegram_decisions import link

pytestmark = pytest.mark.django_db
ALICE_TG = 7001


@pytest.mark.usefixtures("pseudo_ja")
def test_a_decision_mail_is_written_in_bizagent_language(
    alice, make_decision, q_sync, smtp_server, settings, django_capture_on_commit_callbacks
):
    settings.LANGUAGE_CODE = "ja"  # BIZAGENT_LANGUAGE: nobody has a language of their own yet
    with django_capture_on_commit_callbacks(execute=True):
        make_decision(title="Connect Stripe")
    [mail] = smtp_server.messages
    # (the parser keeps the space before an encoded word: strip it)
    subject = str(mail.message["Subject"]).strip()
    assert subject == pseudo("Decision needed: {title}").format(title="Connect Stripe")
    html = mail.part("text/html")
    for body in (mail.part("text/plain"), html):
        assert pseudo("A decision needs your answer.") in body
        assert "Connect Stripe" in body
    assert '<html lang="ja">' in html


@pytest.mark.usefixtures("pseudo_ja")
def test_a_decision_mail_in_english_when_bizagent_language_is_en(
    alice, make_decision, q_sync, smtp_server, settings, django_capture_on_commit_callbacks
):
    settings.LANGUAGE_CODE = "en"
    with django_capture_on_commit_callbacks(execute=True):
        make_decision(title="Connect Stripe")
    [mail] = smtp_server.messages
    assert str(mail.message["Subject"]).strip() == "Decision needed: Connect Stripe"
    assert "A decision needs your answer." in mail.part("text/plain")


@pytest.mark.usefixtures("pseudo_ja")
def test_every_decision_mail_renders_under_japanese(alice, make_decision, q_sync):
    from decisions.selectors import decision_summary

    decision = make_decision(title="Connect Stripe")
    context = {
        "decision": decision_summary(decision),
        "recipient": alice,
        "admin_url": "http://testserver/admin/",
        "link_url": "http://testserver/link/x/",
        "link_expires_at": decision.requested_at,
        "superseded_by": 12,
    }
    with translation.override("ja"):
        for event in ("requested", "reminder", "expired", "outcome", "superseded"):
            for suffix in ("txt", "html"):
                body = render_to_string(f"decisions/email/{event}.{suffix}", context)
                assert pseudo("Hello %(name)s,") % {"name": "alice"} in body, (event, suffix)


@pytest.mark.usefixtures("pseudo_ja")
def test_a_telegram_decision_message_is_written_in_bizagent_language(
    telegram, alice, make_decision, settings
):
    settings.LANGUAGE_CODE = "ja"
    link(alice, ALICE_TG)
    decision = make_decision(title="Connect Stripe", due_at=timezone.now() + timedelta(hours=4))
    decision_notify_task(decision.pk, "requested")
    telegram_outbox_deliver()
    [message] = [m for m in telegram.sent if m["chat"]["id"] == ALICE_TG]
    assert pseudo("Recommendation: %(option)s") % {"option": "Connect it"} in message["text"]
    assert "Connect Stripe" in message["text"]
    assert [label for label, _ in telegram.buttons(message)][-1] == pseudo("Reject")
