"""Telegram as a decision channel: linked accounts, one-time link tokens, the outbox of
messages, the inline buttons behind decisions, and the polling offset.

Only ``decisions.services.telegram`` writes these rows.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from decisions.models.decision import Decision


class TelegramLink(models.Model):
    """A staff member's Telegram account: the ``from.id`` that opened their link token,
    and the private chat the bot answers in."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="telegram_link"
    )
    telegram_user_id = models.BigIntegerField(unique=True)
    chat_id = models.BigIntegerField()
    telegram_username = models.CharField(max_length=100, blank=True, default="")
    linked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"Telegram account of user {self.user_id}"


class TelegramLinkToken(models.Model):
    """A one-time token behind ``t.me/<bot>?start=<token>``; only its sha256 is stored."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="telegram_link_tokens"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"Telegram link token for user {self.user_id}"


class TelegramMessage(models.Model):
    """One message to send (the outbox): recorded first, claimed under a lease, marked
    after Telegram answered. ``dedupe_key`` makes a redelivered task add nothing."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting"
        SENDING = "sending", "Being sent"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed (refused by Telegram)"

    class Purpose(models.TextChoices):
        DECISION = "decision", "Decision"
        REPLY = "reply", "Reply to a person"
        NOTICE = "notice", "Notice (decision expiry or outcome, goal report, anomaly)"

    chat_id = models.BigIntegerField(db_index=True)
    text = models.TextField()
    reply_markup = models.JSONField(default=dict, blank=True)
    purpose = models.CharField(max_length=20, choices=Purpose.choices)
    dedupe_key = models.CharField(max_length=200, unique=True)
    decision = models.ForeignKey(
        Decision, null=True, blank=True, on_delete=models.CASCADE, related_name="telegram_messages"
    )
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    attempts = models.PositiveIntegerField(default=0)
    #: Sends whose answer was never recorded (the worker died between Telegram's answer
    #: and the mark); the next send says it may repeat an earlier message.
    uncertain_sends = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    sent_message_id = models.BigIntegerField(null=True, blank=True)
    lease_owner = models.CharField(max_length=100, blank=True, default="")
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="tgmessage_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.purpose} message to chat {self.chat_id} ({self.status})"


class TelegramButton(models.Model):
    """The opaque handle in one inline button's ``callback_data``: which decision, which
    option (blank: Reject), in which chat, for whom."""

    handle = models.CharField(max_length=64, unique=True)
    decision = models.ForeignKey(
        Decision, on_delete=models.CASCADE, related_name="telegram_buttons"
    )
    option_key = models.CharField(max_length=100, blank=True, default="")
    chat_id = models.BigIntegerField()
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="telegram_buttons"
    )
    message = models.ForeignKey(TelegramMessage, on_delete=models.CASCADE, related_name="buttons")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"button {self.option_key or 'reject'} for decision {self.decision_id}"


class TelegramPollState(models.Model):
    """The one row holding ``getUpdates``' offset and the poller's lease (pk 1)."""

    offset = models.BigIntegerField(default=0)
    lease_owner = models.CharField(max_length=100, blank=True, default="")
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Telegram polling at offset {self.offset}"
