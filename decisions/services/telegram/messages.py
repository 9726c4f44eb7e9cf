"""Telegram messages about decisions (new and reminders with one inline button per option
plus Reject; expiry and outcome as plain notices) and other notices (goal reports,
anomalies), each to the people whose preference (``notify_recipients``) says Telegram."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable

from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from bizagent.notify import message_language
from bizagent.telegram import telegram_enabled
from decisions.actors import Person
from decisions.models import Decision, TelegramButton, TelegramLink, TelegramMessage
from decisions.presentation import presentation_text
from decisions.selectors import decision_summary
from decisions.services.mail import SUBJECTS
from decisions.services.notify_prefs import notify_recipients
from decisions.services.telegram.outbox import telegram_enqueue

#: Decision events that carry buttons.
DECISION_EVENTS = ("requested", "reminder")
#: Decision events told as a plain notice (what happened; nothing to press).
NOTICE_EVENTS = ("expired", "outcome")


def _decision_text(decision: Decision, *, event: str) -> str:
    # From the summary only: the model's analysis (``model_analysis``) never goes out.
    summary = decision_summary(decision)
    lines = []
    if event == "reminder":
        lines.append(_("Reminder: this decision is still open."))
    # The same business wording as the admin and the mails (decisions.presentation).
    lines += [_("Decision needed: %(summary)s") % {"summary": presentation_text(decision)}]
    if summary["recommendation"]:
        lines += ["", _("Recommendation: %(option)s") % {"option": summary["recommendation"]}]
    if summary["due_at"] is not None:
        due = timezone.localtime(summary["due_at"]).strftime("%Y-%m-%d %H:%M %Z")
        lines += ["", _("Decide by %(due)s.") % {"due": due}]
    return "\n".join(lines)


def telegram_decision_notify(*, decision_id: int, event: str) -> int:
    """Queue the decision's Telegram message for each approver who chose Telegram for
    ``event`` (``notify_recipients``); how many new.

    New decisions and reminders carry buttons (and go only while the decision is open);
    expiry and outcome are a plain notice. Idempotent: the dedupe key is the decision,
    the event (a reminder's number) and the person, so a redelivered notify task queues
    nothing twice. Each message is written in its reader's ``message_language`` (their
    Profile, else BIZAGENT_LANGUAGE).
    """
    with translation.override(message_language()):
        return _decision_notify(decision_id=decision_id, event=event)


def _decision_notify(*, decision_id: int, event: str) -> int:
    if event not in (*DECISION_EVENTS, *NOTICE_EVENTS) or not telegram_enabled():
        return 0
    decision = Decision.objects.get(pk=decision_id)
    links = notify_recipients(event=event).telegram
    if event in NOTICE_EVENTS:

        def notice() -> str:
            summary = decision_summary(decision)
            text = str(SUBJECTS[event]).format(
                title=summary["title"], outcome=summary["outcome_label"]
            )
            if event == "expired":
                text += "\n\n" + _(
                    "Nothing was done: it waited past its due time without an answer."
                )
            return text

        return len(
            telegram_notice_send(links=links, text=notice, key=f"decision:{decision.pk}:{event}:0")
        )
    if not decision_summary(decision)["is_open"]:
        return 0
    round_ = decision.reminders_sent if event == "reminder" else 0
    queued = 0
    option_keys = [o["key"] for o in decision_summary(decision)["options"]]
    for link in links:
        language = message_language(link.user)
        with translation.override(language):
            text = _decision_text(decision, event=event)
            reject = _("Reject")
        with transaction.atomic():
            message = telegram_enqueue(
                chat_id=link.chat_id,
                text=text,
                purpose=TelegramMessage.Purpose.DECISION,
                dedupe_key=f"decision:{decision.pk}:{event}:{round_}:user:{link.user_id}",
                decision=decision,
            )
            if message is None:
                continue
            rows = []
            labels = {o["key"]: o["label"] for o in decision_summary(decision)["options"]}
            for key in [*option_keys, ""]:
                button = TelegramButton.objects.create(
                    handle=secrets.token_urlsafe(24),  # 32 characters: well under 64 bytes
                    decision=decision,
                    option_key=key,
                    chat_id=link.chat_id,
                    recipient=link.user,
                    message=message,
                )
                label = labels[key] if key else reject
                rows.append([{"text": label[:64], "callback_data": button.handle}])
            message.reply_markup = {"inline_keyboard": rows}
            message.save(update_fields=["reply_markup"])
            queued += 1
    return queued


def telegram_notice_send(
    *,
    text: str | Callable[[], str],
    key: str,
    event: str | None = None,
    people: Iterable[Person] = (),
    links: Iterable[TelegramLink] | None = None,
) -> list[TelegramMessage]:
    """Queue a plain notice for each person who chose Telegram for ``event`` among
    ``people`` (or for the given ``links``); returns the new outbox rows.

    Deduplicated per ``key`` (one report, one anomaly, one decision event) and person by
    the outbox's unique ``dedupe_key``: calling again queues nothing twice. ``text`` may
    be a function composing it: then each person's copy is composed in their own
    ``message_language``.
    """
    if not telegram_enabled():
        return []
    if links is None:
        if event is None:
            raise ValueError("telegram_notice_send needs an event or the links to send to")
        links = notify_recipients(event=event, people=people).telegram
    queued: list[TelegramMessage] = []
    for link in links:
        dedupe_key = f"{key}:user:{link.user_id}"
        if TelegramMessage.objects.filter(dedupe_key=dedupe_key).exists():
            continue  # sent (or waiting) already: the common case of a repeated tick
        if callable(text):
            with translation.override(message_language(link.user)):
                body = text()
        else:
            body = text
        message = telegram_enqueue(
            chat_id=link.chat_id,
            text=body,
            purpose=TelegramMessage.Purpose.NOTICE,
            dedupe_key=dedupe_key,
        )
        if message is not None:
            queued.append(message)
    return queued
