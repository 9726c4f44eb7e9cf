"""Decision messages with one inline button per option plus Reject."""

from __future__ import annotations

import secrets

from django.db import transaction
from django.utils import timezone

from bizagent.telegram import telegram_enabled
from decisions.models import Decision, TelegramButton, TelegramLink, TelegramMessage
from decisions.selectors import decision_approvers, decision_summary
from decisions.services.telegram.outbox import telegram_enqueue

#: Decision events that carry buttons (the others are for the next round's preferences).
DECISION_EVENTS = ("requested", "reminder")


def _decision_text(decision: Decision, *, event: str) -> str:
    # From the summary only: the model's analysis (``model_analysis``) never goes out.
    summary = decision_summary(decision)
    lines = []
    if event == "reminder":
        lines.append("Reminder: this decision is still open.")
    lines += [f"Decision needed: {summary['title']}", "", summary["summary"], "", "Options:"]
    for option in summary["options"]:
        mark = " (recommended)" if option["recommended"] else ""
        impact = f": {option['impact']}" if option["impact"] else ""
        lines.append(f"• {option['label']}{mark}{impact}")
    if summary["recommendation"]:
        lines += ["", f"Recommendation: {summary['recommendation']}"]
    if summary["due_at"] is not None:
        due = timezone.localtime(summary["due_at"]).strftime("%Y-%m-%d %H:%M %Z")
        lines += ["", f"Decide by {due}."]
    return "\n".join(lines)


def telegram_decision_notify(*, decision_id: int, event: str) -> int:
    """Queue the decision's message with buttons for each linked approver; how many new.

    Idempotent: the dedupe key is the decision, the event (a reminder's number) and the
    person, so a redelivered notify task queues nothing twice. Events without buttons
    (expiry, outcome) are left to email until preferences exist.
    """
    if event not in DECISION_EVENTS or not telegram_enabled():
        return 0
    decision = Decision.objects.get(pk=decision_id)
    if not decision_summary(decision)["is_open"]:
        return 0
    round_ = decision.reminders_sent if event == "reminder" else 0
    links = TelegramLink.objects.filter(user__in=decision_approvers()).select_related("user")
    queued = 0
    text = _decision_text(decision, event=event)
    option_keys = [o["key"] for o in decision_summary(decision)["options"]]
    for link in links:
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
                label = labels[key] if key else "Reject"
                rows.append([{"text": label[:64], "callback_data": button.handle}])
            message.reply_markup = {"inline_keyboard": rows}
            message.save(update_fields=["reply_markup"])
            queued += 1
    return queued
