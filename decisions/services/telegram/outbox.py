"""The Telegram outbox: every message is a row first, sent under a lease, marked after.

See the package docstring for the at-least-once window and the failure handling.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from bizagent.leases import lease_claim, lease_release
from bizagent.telegram import TelegramClient, TelegramError, telegram_client, telegram_enabled
from decisions.models import Decision, TelegramMessage
from decisions.services.enqueue import task_enqueue

logger = logging.getLogger(__name__)

#: Telegram: "avoid sending more than one message per second" to one chat.
CHAT_INTERVAL = timedelta(seconds=1)
#: How long one delivery holds a row it is sending: far longer than one Bot API call
#: with its retries (``TELEGRAM_RETRY`` budget 30 s plus timeouts).
SEND_LEASE = timedelta(minutes=3)
BASE_BACKOFF = timedelta(seconds=5)
MAX_BACKOFF = timedelta(minutes=5)
#: Rows one delivery pass looks at: a bounded unit of work.
BATCH = 100
#: Long-poll seconds per getUpdates, and how long one poll task holds the offset.
RESENT_NOTE = "(sent again: an earlier copy may have reached you)\n\n"


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"[:100]


def telegram_enqueue(
    *,
    chat_id: int,
    text: str,
    purpose: str,
    dedupe_key: str,
    reply_markup: dict[str, Any] | None = None,
    decision: Decision | None = None,
) -> TelegramMessage | None:
    """Record one message to send; None when ``dedupe_key`` was recorded before.

    Delivery is queued after commit; the minute schedule catches up if the queue is down.
    """
    message = TelegramMessage(
        chat_id=chat_id,
        text=text[:4096],  # Telegram's limit for one message
        purpose=purpose,
        dedupe_key=dedupe_key,
        reply_markup=reply_markup or {},
        decision=decision,
    )
    message.full_clean(validate_unique=False)
    try:
        with transaction.atomic():
            message.save()
    except IntegrityError:
        return None
    transaction.on_commit(lambda: task_enqueue("decisions.tasks.telegram_outbox_task"))
    return message


@dataclass
class DeliveryReport:
    sent: int = 0
    deferred: int = 0
    failed: int = 0
    stopped: str = ""
    #: When the earliest waiting head of a chat becomes due (None: nothing waits).
    next_due: datetime | None = None

    def wait_until(self, moment: datetime, *, deferred: bool = True) -> None:
        self.deferred += int(deferred)
        self.next_due = moment if self.next_due is None else min(self.next_due, moment)


def _backoff(attempts: int, retry_after: float | None) -> timedelta:
    wait = min(MAX_BACKOFF, BASE_BACKOFF * (2 ** min(max(attempts - 1, 0), 16)))
    if retry_after is not None:
        wait = max(wait, timedelta(seconds=retry_after))
    return wait


def telegram_outbox_deliver(
    *, client: TelegramClient | None = None, now: datetime | None = None, limit: int = BATCH
) -> DeliveryReport:
    """Send the due outbox rows once each, oldest first; returns what happened.

    Per chat, a row goes only when every older row of that chat has gone (in order),
    and only a second after the chat's previous message. Bounded by ``limit`` rows.
    """
    now = now or timezone.now()
    report = DeliveryReport()
    if not telegram_enabled() and client is None:
        report.stopped = "Telegram is off (no BIZAGENT_TELEGRAM_BOT_TOKEN)"
        return report
    client = client or telegram_client()
    owner = _owner()
    open_rows = TelegramMessage.objects.filter(
        status__in=[TelegramMessage.Status.PENDING, TelegramMessage.Status.SENDING]
    ).order_by("id")[:limit]
    blocked_chats: set[int] = set()
    for row in list(open_rows):
        if row.chat_id in blocked_chats:
            continue
        # An older row of this chat still waits: this one waits behind it (in order).
        blocked_chats.add(row.chat_id)
        if row.next_attempt_at > now:
            report.wait_until(row.next_attempt_at)
            continue
        last_sent = (
            TelegramMessage.objects.filter(chat_id=row.chat_id, sent_at__isnull=False)
            .order_by("-sent_at")
            .values_list("sent_at", flat=True)
            .first()
        )
        if last_sent is not None and now < last_sent + CHAT_INTERVAL:
            TelegramMessage.objects.filter(pk=row.pk, status=row.status).update(
                next_attempt_at=last_sent + CHAT_INTERVAL
            )
            report.wait_until(last_sent + CHAT_INTERVAL)
            continue
        outcome = _deliver_one(row=row, client=client, owner=owner, now=now)
        if outcome == "sent":
            report.sent += 1
            # The chat's next row, if any, may go a second from now.
            report.wait_until(now + CHAT_INTERVAL, deferred=False)
        elif outcome == "failed":
            report.failed += 1
        elif outcome == "down":
            report.deferred += 1
            # Telegram itself is unreachable: the other chats would fail the same way.
            report.stopped = "Telegram unreachable; rows wait"
            break
        else:
            report.deferred += 1
    return report


def telegram_outbox_drain(
    *,
    client: TelegramClient | None = None,
    window: timedelta = timedelta(seconds=45),
    sleep: Callable[[float], None] = time.sleep,
) -> DeliveryReport:
    """Deliver passes for up to ``window``: a second message to one chat (held back a
    second by the rate limit) goes a second later, not at the next minute's tick.

    Stops early when nothing is due within the window or Telegram is unreachable
    (the minute schedule tries again). Bounded by ``window``.
    """
    total = DeliveryReport()
    deadline = timezone.now() + window
    while True:
        report = telegram_outbox_deliver(client=client)
        total.sent += report.sent
        total.failed += report.failed
        total.deferred = report.deferred
        total.stopped = report.stopped
        if report.stopped:
            return total
        now = timezone.now()
        next_due = report.next_due
        if next_due is None or next_due >= deadline:
            return total
        sleep(max(0.0, (next_due - now).total_seconds()))


def _deliver_one(*, row: TelegramMessage, client: TelegramClient, owner: str, now: datetime) -> str:
    uncertain = row.status == TelegramMessage.Status.SENDING
    # Recorded before the request: status, the attempt, the lease (committed on its own).
    claimed = lease_claim(
        TelegramMessage.objects.filter(
            pk=row.pk,
            status__in=[TelegramMessage.Status.PENDING, TelegramMessage.Status.SENDING],
            next_attempt_at__lte=now,
        ),
        owner=owner,
        now=now,
        duration=SEND_LEASE,
        status=TelegramMessage.Status.SENDING,
    )
    if not claimed:
        return "busy"
    if uncertain:
        TelegramMessage.objects.filter(pk=row.pk, lease_owner=owner).update(
            uncertain_sends=row.uncertain_sends + 1
        )
        logger.warning(
            "telegram: message %s may have been sent before its worker died; sending it again",
            row.pk,
        )
    row.refresh_from_db()
    TelegramMessage.objects.filter(pk=row.pk, lease_owner=owner).update(attempts=row.attempts + 1)
    text = (RESENT_NOTE + row.text)[:4096] if row.uncertain_sends else row.text
    try:
        result = client.send_message(
            chat_id=row.chat_id, text=text, reply_markup=row.reply_markup or None
        )
    except TelegramError as exc:
        error = str(exc)[:1000]
        if exc.transient:
            lease_release(
                TelegramMessage.objects.filter(pk=row.pk),
                owner=owner,
                status=TelegramMessage.Status.PENDING,
                next_attempt_at=now + _backoff(row.attempts + 1, exc.retry_after),
                last_error=error,
            )
            logger.warning("telegram: message %s waits: %s", row.pk, error)
            return "down" if exc.error_code is None or exc.error_code >= 500 else "deferred"
        lease_release(
            TelegramMessage.objects.filter(pk=row.pk),
            owner=owner,
            status=TelegramMessage.Status.FAILED,
            last_error=error,
        )
        logger.warning("telegram: message %s failed: %s", row.pk, error)
        return "failed"
    telegram_message_mark_sent(
        message_id=row.pk, owner=owner, sent_message_id=result["message_id"], now=now
    )
    return "sent"


def telegram_message_mark_sent(
    *, message_id: int, owner: str, sent_message_id: int, now: datetime | None = None
) -> bool:
    """Mark a row sent with Telegram's message id, if ``owner`` still holds it."""
    return bool(
        lease_release(
            TelegramMessage.objects.filter(pk=message_id, status=TelegramMessage.Status.SENDING),
            owner=owner,
            status=TelegramMessage.Status.SENT,
            sent_message_id=sent_message_id,
            sent_at=now or timezone.now(),
            last_error="",
        )
    )
