"""Updates: long polling (offset stored, advanced after the batch) and one update's
handling (a ``/start`` link or a button press), shared with the webhook view."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from bizagent.leases import lease_claim, lease_release
from bizagent.telegram import TelegramClient, TelegramError, telegram_client, telegram_enabled
from decisions.models import TelegramPollState
from decisions.services.telegram.callbacks import _is_id, _object, telegram_callback_handle
from decisions.services.telegram.linking import LinkTokenRefused, telegram_link_bind
from decisions.services.telegram.outbox import _owner, telegram_enqueue

logger = logging.getLogger(__name__)

#: Long-poll seconds per getUpdates, and how long one poll task holds the offset.
POLL_TIMEOUT = 20
POLL_LEASE = timedelta(minutes=2)
POLL_STATE_PK = 1


def telegram_update_handle(*, update: dict[str, Any], client: TelegramClient | None = None) -> str:
    """Handle one update (a ``/start`` message or a button press); what was done."""
    if isinstance(update.get("callback_query"), dict):
        return telegram_callback_handle(callback=update["callback_query"], client=client)
    message = update.get("message")
    if not isinstance(message, dict):
        return "ignored"
    text = str(message.get("text") or "")
    sender, chat = _object(message.get("from")), _object(message.get("chat"))
    if not text.startswith("/start") or not _is_id(sender.get("id")) or not _is_id(chat.get("id")):
        return "ignored"
    token = text.removeprefix("/start").strip()
    key = f"update:{update.get('update_id')}:start"
    try:
        if not token:
            raise LinkTokenRefused("unknown")
        link = telegram_link_bind(
            token=token,
            telegram_user_id=int(sender["id"]),
            chat_id=int(chat["id"]),
            telegram_username=str(sender.get("username") or ""),
        )
    except LinkTokenRefused as refusal:
        telegram_enqueue(
            chat_id=int(chat["id"]), text=refusal.message, purpose="reply", dedupe_key=key
        )
        return f"refused:{refusal.code}"
    telegram_enqueue(
        chat_id=link.chat_id,
        text=f"linked as {link.user.get_username()}",
        purpose="reply",
        dedupe_key=key,
    )
    return "linked"


def telegram_poll_window(
    *, window: timedelta = timedelta(seconds=45), client: TelegramClient | None = None
) -> list[str]:
    """Long polls back to back for about ``window`` (one scheduled minute), so an update
    waits seconds, not until the next tick; stops at the first poll that did not run."""
    deadline = timezone.now() + window
    results: list[str] = []
    while timezone.now() < deadline:
        remaining = int((deadline - timezone.now()).total_seconds())
        result = telegram_poll(client=client, timeout=max(0, min(POLL_TIMEOUT, remaining)))
        results.append(result)
        if not result.endswith("updates"):
            break
    return results


def telegram_poll(
    *,
    client: TelegramClient | None = None,
    timeout: int = POLL_TIMEOUT,
    now: datetime | None = None,
) -> str:
    """One long poll: fetch updates from the stored offset, handle them, then advance.

    Nothing when the webhook is in use (Telegram refuses getUpdates then) or another
    poll holds the lease. A crash mid-batch leaves the offset where it was, so the
    batch comes again (linking and deciding are idempotent: a repeat is refused).
    """
    if settings.TELEGRAM_WEBHOOK_SECRET:
        return "webhook in use"
    if not telegram_enabled() and client is None:
        return "Telegram is off"
    now = now or timezone.now()
    TelegramPollState.objects.get_or_create(pk=POLL_STATE_PK)
    owner = _owner()
    state_rows = TelegramPollState.objects.filter(pk=POLL_STATE_PK)
    if not lease_claim(state_rows, owner=owner, now=now, duration=POLL_LEASE):
        return "another poll is running"
    state = state_rows.get()
    client = client or telegram_client()
    try:
        updates = client.get_updates(offset=state.offset or None, timeout=timeout)
        for update in updates:
            telegram_update_handle(update=update, client=client)
    except TelegramError as exc:
        lease_release(state_rows, owner=owner)
        logger.warning("telegram: polling failed: %s", exc)
        return f"failed: {exc}"
    ids = [u["update_id"] for u in updates if isinstance(u.get("update_id"), int)]
    offset = max(ids) + 1 if ids else state.offset
    lease_release(state_rows, owner=owner, offset=offset, updated_at=timezone.now())
    return f"{len(updates)} updates"
