"""Telegram as a decision channel: linked accounts, one-time link tokens, the outbox of
messages, the inline buttons behind decisions, and the polling offset.

Only ``decisions.services.telegram`` writes these rows.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from decisions.models.decision import Decision


class TelegramLink(models.Model):
    """A staff member's Telegram account: the ``from.id`` that opened their link token,
    and the private chat the bot answers in."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="telegram_link",
        verbose_name=_("user"),
    )
    telegram_user_id = models.BigIntegerField(unique=True, verbose_name=_("telegram user id"))
    chat_id = models.BigIntegerField(verbose_name=_("chat id"))
    telegram_username = models.CharField(
        max_length=100, blank=True, default="", verbose_name=_("telegram username")
    )
    linked_at = models.DateTimeField(default=timezone.now, verbose_name=_("linked at"))

    class Meta:
        verbose_name = _("telegram link")
        verbose_name_plural = _("telegram links")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"Telegram account of user {self.user_id}"


class TelegramLinkToken(models.Model):
    """A one-time token behind ``t.me/<bot>?start=<token>``; only its sha256 is stored."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="telegram_link_tokens",
        verbose_name=_("user"),
    )
    token_hash = models.CharField(max_length=64, unique=True, verbose_name=_("token hash"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    expires_at = models.DateTimeField(verbose_name=_("expires at"))
    used_at = models.DateTimeField(null=True, blank=True, verbose_name=_("used at"))

    class Meta:
        verbose_name = _("telegram link token")
        verbose_name_plural = _("telegram link tokens")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"Telegram link token for user {self.user_id}"


class TelegramMessage(models.Model):
    """One message to send (the outbox): recorded first, claimed under a lease, marked
    after Telegram answered. ``dedupe_key`` makes a redelivered task add nothing."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        SENDING = "sending", _("Being sent")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed (refused by Telegram)")

    class Purpose(models.TextChoices):
        DECISION = "decision", _("Decision")
        REPLY = "reply", _("Reply to a person")
        NOTICE = "notice", _("Notice (decision expiry or outcome, goal report, anomaly)")

    chat_id = models.BigIntegerField(db_index=True, verbose_name=_("chat id"))
    text = models.TextField(verbose_name=_("text"))
    reply_markup = models.JSONField(default=dict, blank=True, verbose_name=_("reply markup"))
    purpose = models.CharField(max_length=20, choices=Purpose.choices, verbose_name=_("purpose"))
    dedupe_key = models.CharField(max_length=200, unique=True, verbose_name=_("dedupe key"))
    decision = models.ForeignKey(
        Decision,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="telegram_messages",
        verbose_name=_("decision"),
    )
    status = models.CharField(
        max_length=10,
        choices=Status.choices,
        default=Status.PENDING,
        db_index=True,
        verbose_name=_("status"),
    )
    attempts = models.PositiveIntegerField(default=0, verbose_name=_("attempts"))
    #: Sends whose answer was never recorded (the worker died between Telegram's answer
    #: and the mark); the next send says it may repeat an earlier message.
    uncertain_sends = models.PositiveIntegerField(default=0, verbose_name=_("uncertain sends"))
    next_attempt_at = models.DateTimeField(default=timezone.now, verbose_name=_("next attempt at"))
    sent_message_id = models.BigIntegerField(
        null=True, blank=True, verbose_name=_("sent message id")
    )
    lease_owner = models.CharField(
        max_length=100, blank=True, default="", verbose_name=_("lease owner")
    )
    lease_expires_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("lease expires at")
    )
    last_error = models.TextField(blank=True, default="", verbose_name=_("last error"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    sent_at = models.DateTimeField(null=True, blank=True, db_index=True, verbose_name=_("sent at"))

    class Meta:
        verbose_name = _("telegram message")
        verbose_name_plural = _("telegram messages")
        ordering = ["id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="tgmessage_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.purpose} message to chat {self.chat_id} ({self.status})"


class TelegramButton(models.Model):
    """The opaque handle in one inline button's ``callback_data``: which decision, which
    option (blank: Reject), in which chat, for whom."""

    handle = models.CharField(max_length=64, unique=True, verbose_name=_("handle"))
    decision = models.ForeignKey(
        Decision,
        on_delete=models.CASCADE,
        related_name="telegram_buttons",
        verbose_name=_("decision"),
    )
    option_key = models.CharField(
        max_length=100, blank=True, default="", verbose_name=_("option key")
    )
    chat_id = models.BigIntegerField(verbose_name=_("chat id"))
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="telegram_buttons",
        verbose_name=_("recipient"),
    )
    message = models.ForeignKey(
        TelegramMessage, on_delete=models.CASCADE, related_name="buttons", verbose_name=_("message")
    )
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("telegram button")
        verbose_name_plural = _("telegram buttons")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"button {self.option_key or 'reject'} for decision {self.decision_id}"


class TelegramPollState(models.Model):
    """The one row holding ``getUpdates``' offset and the poller's lease (pk 1)."""

    offset = models.BigIntegerField(default=0, verbose_name=_("offset"))
    lease_owner = models.CharField(
        max_length=100, blank=True, default="", verbose_name=_("lease owner")
    )
    lease_expires_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("lease expires at")
    )
    updated_at = models.DateTimeField(default=timezone.now, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("telegram poll state")
        verbose_name_plural = _("telegram poll states")

    def __str__(self) -> str:
        return f"Telegram polling at offset {self.offset}"
