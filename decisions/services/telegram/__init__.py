"""Telegram as a decision channel: the outbox (``outbox``), decision messages
(``messages``), linking (``linking``), button presses (``callbacks``) and updates
(``updates``); this package re-exports their public names.

**Outbox.** Every message is a ``TelegramMessage`` row first (``telegram_enqueue``; its
``dedupe_key`` is unique, so a redelivered task adds nothing). ``telegram_outbox_deliver``
sends the due rows oldest first, one chat's rows strictly in order, at most one message a
second per chat (Telegram's documented limit for one chat), each row claimed under a lease
(``bizagent.leases``) with its status set to *sending* and ``attempts`` counted **before**
the request, and marked *sent* with Telegram's message id **after** it.

The at-least-once window: a worker that dies after Telegram accepted a message and
before the mark leaves a *sending* row whose lease lapses. Telegram has no idempotency
key for ``sendMessage``, so nobody can know whether it arrived; the row is never dropped
(nothing is lost) and never silently repeated: the next delivery counts it in
``uncertain_sends``, logs it, and sends it again marked "(sent again: an earlier copy may
have reached you)". A button in a repeated copy is the same handle, so pressing either
copy decides once.

Failures: 429 waits ``retry_after``, 5xx and network trouble back off exponentially (to
``MAX_BACKOFF``) with no attempt limit, so a Telegram outage of hours leaves rows waiting,
and they go out in order once it is back; other 4xx (a blocked bot, an unknown chat) fail
the row with the reason.

**Updates** arrive by ``telegram_poll`` (the stored offset advanced only after the batch
was handled) or by the webhook view; either way ``telegram_update_handle`` takes one.
"""

from decisions.services.telegram.callbacks import CALLBACK_MESSAGES, telegram_callback_handle
from decisions.services.telegram.linking import (
    LINK_TOKEN_TTL,
    LinkTokenRefused,
    telegram_link_bind,
    telegram_link_token_issue,
    telegram_unlink,
)
from decisions.services.telegram.messages import (
    DECISION_EVENTS,
    NOTICE_EVENTS,
    telegram_decision_notify,
    telegram_notice_send,
)
from decisions.services.telegram.outbox import (
    BASE_BACKOFF,
    BATCH,
    CHAT_INTERVAL,
    MAX_BACKOFF,
    RESENT_NOTE,
    SEND_LEASE,
    DeliveryReport,
    telegram_enqueue,
    telegram_message_mark_sent,
    telegram_outbox_deliver,
    telegram_outbox_drain,
)
from decisions.services.telegram.updates import (
    POLL_LEASE,
    POLL_STATE_PK,
    POLL_TIMEOUT,
    telegram_poll,
    telegram_poll_window,
    telegram_update_handle,
)

__all__ = [
    "BASE_BACKOFF",
    "BATCH",
    "CALLBACK_MESSAGES",
    "CHAT_INTERVAL",
    "DECISION_EVENTS",
    "LINK_TOKEN_TTL",
    "MAX_BACKOFF",
    "NOTICE_EVENTS",
    "POLL_LEASE",
    "POLL_STATE_PK",
    "POLL_TIMEOUT",
    "RESENT_NOTE",
    "SEND_LEASE",
    "DeliveryReport",
    "LinkTokenRefused",
    "telegram_callback_handle",
    "telegram_decision_notify",
    "telegram_enqueue",
    "telegram_link_bind",
    "telegram_link_token_issue",
    "telegram_message_mark_sent",
    "telegram_notice_send",
    "telegram_outbox_deliver",
    "telegram_outbox_drain",
    "telegram_poll",
    "telegram_poll_window",
    "telegram_unlink",
    "telegram_update_handle",
]
