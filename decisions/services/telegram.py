"""Telegram as a decision channel: the outbox, polling, linking, and button presses.

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

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from bizagent.leases import lease_claim, lease_release
from bizagent.telegram import TelegramClient, TelegramError, telegram_client, telegram_enabled
from decisions.actors import Person
from decisions.models import (
    Decision,
    TelegramButton,
    TelegramLink,
    TelegramLinkToken,
    TelegramMessage,
    TelegramPollState,
)
from decisions.presentation import presentation_text
from decisions.selectors import decision_approvers, decision_summary, user_may_decide
from decisions.services.audit import audit_log
from decisions.services.decisions import (
    DecisionNotPending,
    decision_approve,
    decision_reject,
    option_proceeds,
)
from decisions.services.enqueue import task_enqueue

logger = logging.getLogger(__name__)

LINK_TOKEN_TTL = timedelta(minutes=10)
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
POLL_TIMEOUT = 20
POLL_LEASE = timedelta(minutes=2)
POLL_STATE_PK = 1
RESENT_NOTE = "(sent again: an earlier copy may have reached you)\n\n"
#: Decision events that carry buttons (the others are for the next round's preferences).
DECISION_EVENTS = ("requested", "reminder")


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"[:100]


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- the outbox ---------------------------------------------------------------------------


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


# --- decisions --------------------------------------------------------------------------


def _decision_text(decision: Decision, *, event: str) -> str:
    # From the summary only: the model's analysis (``model_analysis``) never goes out.
    summary = decision_summary(decision)
    lines = []
    if event == "reminder":
        lines.append("Reminder: this decision is still open.")
    # The same business wording as the admin and the mails (decisions.presentation).
    lines += ["Decision needed: " + presentation_text(decision)]
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


# --- linking ----------------------------------------------------------------------------


def telegram_link_token_issue(*, user: Person, now: datetime | None = None) -> str:
    """A new one-time link token for ``user`` (only its hash is stored); 10 minutes."""
    now = now or timezone.now()
    token = secrets.token_urlsafe(24)  # t.me start parameters: [A-Za-z0-9_-], ≤ 64
    row = TelegramLinkToken(
        user=user, token_hash=_token_hash(token), created_at=now, expires_at=now + LINK_TOKEN_TTL
    )
    row.full_clean()
    row.save()
    return token


class LinkTokenRefused(Exception):
    MESSAGES = {
        "unknown": "This link is not valid. Open Link Telegram in the admin for a new one.",
        "used": "This link was already used. Each link works once; open the admin for a new one.",
        "expired": "This link has expired (links last 10 minutes). Open the admin for a new one.",
        "taken": "This Telegram account is already linked to another person.",
    }

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code
        self.message = self.MESSAGES[code]


def telegram_link_bind(
    *,
    token: str,
    telegram_user_id: int,
    chat_id: int,
    telegram_username: str = "",
    now: datetime | None = None,
) -> TelegramLink:
    """Bind the Telegram account that opened ``token`` to the token's user (single use).

    Raises ``LinkTokenRefused`` for an unknown, used or expired token (nothing bound).
    Linking again replaces the earlier account; both are audited.
    """
    now = now or timezone.now()
    with transaction.atomic():
        row = (
            TelegramLinkToken.objects.select_for_update()
            .select_related("user")
            .filter(token_hash=_token_hash(token))
            .first()
        )
        if row is None:
            raise LinkTokenRefused("unknown")
        if row.used_at is not None:
            raise LinkTokenRefused("used")
        if now >= row.expires_at:
            raise LinkTokenRefused("expired")
        other = (
            TelegramLink.objects.filter(telegram_user_id=telegram_user_id)
            .exclude(user=row.user)
            .exists()
        )
        if other:
            raise LinkTokenRefused("taken")
        # Compare-and-set: of two updates carrying one token, one spends it.
        if not TelegramLinkToken.objects.filter(pk=row.pk, used_at__isnull=True).update(
            used_at=now
        ):
            raise LinkTokenRefused("used")
        existing = TelegramLink.objects.select_for_update().filter(user=row.user).first()
        previous = existing.telegram_user_id if existing else None
        link, _created = TelegramLink.objects.update_or_create(
            user=row.user,
            defaults={
                "telegram_user_id": telegram_user_id,
                "chat_id": chat_id,
                "telegram_username": telegram_username[:100],
                "linked_at": now,
            },
        )
        audit_log(
            action="decisions.telegram_relinked" if existing else "decisions.telegram_linked",
            actor=row.user,
            subject=link,
            data={"telegram_user_id": telegram_user_id, "previous": previous},
        )
    return link


def telegram_unlink(*, user: Person) -> bool:
    """Forget ``user``'s Telegram account; False when none was linked. Audited."""
    with transaction.atomic():
        link = TelegramLink.objects.select_for_update().filter(user=user).first()
        if link is None:
            return False
        audit_log(
            action="decisions.telegram_unlinked",
            actor=user,
            subject=link,
            data={"telegram_user_id": link.telegram_user_id},
        )
        link.delete()
    return True


# --- updates ----------------------------------------------------------------------------


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
