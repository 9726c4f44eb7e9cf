"""Button presses: decide as the linked person if they may, answer, edit the message."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from bizagent.telegram import TelegramClient, TelegramError, telegram_client
from decisions.models import Decision, TelegramButton, TelegramLink
from decisions.selectors import decision_summary, user_may_decide
from decisions.services.decisions import (
    DecisionNotPending,
    decision_approve,
    decision_reject,
    option_proceeds,
)

logger = logging.getLogger(__name__)

CALLBACK_MESSAGES = {
    "unknown": "This button is not valid.",
    "not_linked": "This Telegram account is not linked to anyone allowed to decide.",
    "not_permitted": "You are not allowed to decide on approvals.",
    "closed": "Already decided, or no longer waiting for an answer.",
    "expired": "This decision expired: it is past its due time.",
}


def telegram_callback_handle(
    *, callback: dict[str, Any], client: TelegramClient | None = None
) -> str:
    """A button press: decide as the linked person if they may, answer, edit the message.

    The press always gets an answer; the decision changes only through
    ``decision_approve``/``decision_reject`` (``via="telegram"``), whose compare-and-set
    makes two presses at once one outcome.
    """
    handle = str(callback.get("data") or "")[:64]
    sender = _object(callback.get("from"))
    button = (
        TelegramButton.objects.select_related("decision", "message").filter(handle=handle).first()
        if handle
        else None
    )
    sender_id = sender.get("id")
    code, outcome = _callback_decide(
        button=button,
        sender_id=sender_id if isinstance(sender_id, int) and _is_id(sender_id) else 0,
    )
    text = outcome or CALLBACK_MESSAGES[code]
    client = client or telegram_client()
    try:
        client.answer_callback_query(callback_query_id=str(callback.get("id") or ""), text=text)
    except TelegramError as exc:
        logger.warning("telegram: could not answer a button press: %s", exc)
    if button is not None and button.message.sent_message_id:
        note = f"\n\n{text}"
        try:
            client.edit_message_text(
                chat_id=button.chat_id,
                message_id=button.message.sent_message_id,
                text=(button.message.text[: 4096 - len(note)] + note),
                reply_markup={"inline_keyboard": []}
                if code in ("decided", "closed", "expired")
                else button.message.reply_markup,
            )
        except TelegramError as exc:
            logger.warning("telegram: could not edit the decision message: %s", exc)
    return code


def _object(value: Any) -> dict[str, Any]:
    """A JSON object from an update, or an empty one for anything else."""
    return value if isinstance(value, dict) else {}


def _is_id(value: Any) -> bool:
    # Telegram ids are integers (up to 52 bits); a bool is an int to Python, not here.
    return isinstance(value, int) and not isinstance(value, bool) and value != 0


def _callback_decide(*, button: TelegramButton | None, sender_id: int) -> tuple[str, str]:
    if button is None:
        return "unknown", ""
    link = TelegramLink.objects.select_related("user").filter(telegram_user_id=sender_id).first()
    # The button was sent to one person's chat: another account pressing it (a forwarded
    # message, a group) is not that person.
    if link is None or link.user_id != button.recipient_id or link.chat_id != button.chat_id:
        return "not_linked", ""
    user = get_user_model().objects.get(pk=link.user_id)
    if not user_may_decide(user):
        return "not_permitted", ""
    decision = button.decision
    decision.refresh_from_db()
    if decision.status != Decision.Status.PENDING:
        return "closed", ""
    if timezone.now() >= decision.due_at:
        return "expired", ""
    try:
        if button.option_key and option_proceeds(button.option_key):
            decision_approve(
                decision_id=decision.pk, user=user, option_key=button.option_key, via="telegram"
            )
            label = decision_summary(decision)
            chosen = next(
                (o["label"] for o in label["options"] if o["key"] == button.option_key),
                button.option_key,
            )
            return "decided", f"Approved by {user.get_username()}: {chosen}"
        decision_reject(
            decision_id=decision.pk, user=user, option_key=button.option_key, via="telegram"
        )
        return "decided", f"Rejected by {user.get_username()}"
    except DecisionNotPending:
        return "closed", ""
    except PermissionDenied:
        return "not_permitted", ""
    except ValidationError as exc:
        return "decided_refused", "Not decided: " + "; ".join(exc.messages)
