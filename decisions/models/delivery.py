"""How decisions and audit rows leave the database: mails, signed links, the Sheets outbox."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from decisions.models.decision import Decision


class DecisionLink(models.Model):
    """A single-use link mailed to one recipient for one decision (``decisions.services.links``)."""

    decision = models.ForeignKey(
        Decision, on_delete=models.CASCADE, related_name="links", verbose_name=_("decision")
    )
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="decision_links",
        verbose_name=_("recipient"),
    )
    nonce = models.CharField(max_length=64, unique=True, verbose_name=_("nonce"))
    expires_at = models.DateTimeField(verbose_name=_("expires at"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    used_at = models.DateTimeField(null=True, blank=True, verbose_name=_("used at"))
    used_action = models.CharField(
        max_length=10, blank=True, default="", verbose_name=_("used action")
    )

    class Meta:
        verbose_name = _("decision link")
        verbose_name_plural = _("decision links")

    def __str__(self) -> str:
        return f"link for decision {self.decision_id} to user {self.recipient_id}"


class DecisionMail(models.Model):
    """One mail about a decision to one approver: recorded before sending, marked after."""

    class Event(models.TextChoices):
        REQUESTED = "requested", _("New decision")
        REMINDER = "reminder", _("Reminder")
        EXPIRED = "expired", _("Expired")
        OUTCOME = "outcome", _("Outcome")
        SUPERSEDED = "superseded", _("Superseded")

    decision = models.ForeignKey(
        Decision, on_delete=models.CASCADE, related_name="mails", verbose_name=_("decision")
    )
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="decision_mails",
        verbose_name=_("recipient"),
    )
    event = models.CharField(max_length=20, choices=Event.choices, verbose_name=_("event"))
    link = models.ForeignKey(
        DecisionLink,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("link"),
    )
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    sent_at = models.DateTimeField(null=True, blank=True, verbose_name=_("sent at"))
    #: Who is sending it, until when (``bizagent.leases``): two deliveries of the same
    #: task never both send it, and a sender that died leaves it to the next delivery.
    lease_owner = models.CharField(
        max_length=100, blank=True, default="", verbose_name=_("lease owner")
    )
    lease_expires_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("lease expires at")
    )

    class Meta:
        verbose_name = _("decision mail")
        verbose_name_plural = _("decision mails")
        ordering = ["id"]
        constraints = [
            # Reminders repeat (at half time, an hour before); the others go out once.
            models.UniqueConstraint(
                fields=["decision", "recipient", "event"],
                condition=~Q(event="reminder"),
                name="decisions_mail_once_per_event",
            )
        ]

    def __str__(self) -> str:
        return f"{self.event} mail for decision {self.decision_id} to user {self.recipient_id}"


class SheetRow(models.Model):
    """One row waiting for (or already in) Google Sheets (``decisions.mirror``)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENT = "sent", _("Mirrored")
        FAILED = "failed", _("Failed (rejected by Google)")

    tab = models.CharField(max_length=50, verbose_name=_("tab"))
    uuid = models.UUIDField(unique=True, verbose_name=_("uuid"))
    values = models.JSONField(verbose_name=_("values"))
    status = models.CharField(
        max_length=10,
        choices=Status.choices,
        default=Status.PENDING,
        db_index=True,
        verbose_name=_("status"),
    )
    attempts = models.PositiveIntegerField(default=0, verbose_name=_("attempts"))
    next_attempt_at = models.DateTimeField(default=timezone.now, verbose_name=_("next attempt at"))
    #: The sync holding the row, until when (``bizagent.leases``); a sync that died
    #: leaves the row to the next one once the lease lapses.
    claim = models.UUIDField(null=True, blank=True, db_index=True, verbose_name=_("claim"))
    claim_expires_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("claim expires at")
    )
    last_error = models.TextField(blank=True, default="", verbose_name=_("last error"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    sent_at = models.DateTimeField(null=True, blank=True, verbose_name=_("sent at"))

    class Meta:
        verbose_name = _("sheet row")
        verbose_name_plural = _("sheet rows")
        ordering = ["id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="sheetrow_due_idx")]

    def __str__(self) -> str:
        return f"{self.tab} {self.uuid} ({self.status})"
