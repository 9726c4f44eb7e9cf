"""How decisions and audit rows leave the database: mails, signed links, the Sheets outbox."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from decisions.models.decision import Decision


class DecisionLink(models.Model):
    """A single-use link mailed to one recipient for one decision (``decisions.services.links``)."""

    decision = models.ForeignKey(Decision, on_delete=models.CASCADE, related_name="links")
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="decision_links"
    )
    nonce = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)
    used_at = models.DateTimeField(null=True, blank=True)
    used_action = models.CharField(max_length=10, blank=True, default="")

    def __str__(self) -> str:
        return f"link for decision {self.decision_id} to user {self.recipient_id}"


class DecisionMail(models.Model):
    """One mail about a decision to one approver: recorded before sending, marked after."""

    class Event(models.TextChoices):
        REQUESTED = "requested", "New decision"
        REMINDER = "reminder", "Reminder"
        EXPIRED = "expired", "Expired"
        OUTCOME = "outcome", "Outcome"
        SUPERSEDED = "superseded", "Superseded"

    decision = models.ForeignKey(Decision, on_delete=models.CASCADE, related_name="mails")
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="decision_mails"
    )
    event = models.CharField(max_length=20, choices=Event.choices)
    link = models.ForeignKey(
        DecisionLink, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    #: Who is sending it, until when (``bizagent.leases``): two deliveries of the same
    #: task never both send it, and a sender that died leaves it to the next delivery.
    lease_owner = models.CharField(max_length=100, blank=True, default="")
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
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
        PENDING = "pending", "Pending"
        SENT = "sent", "Mirrored"
        FAILED = "failed", "Failed (rejected by Google)"

    tab = models.CharField(max_length=50)
    uuid = models.UUIDField(unique=True)
    values = models.JSONField()
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    #: The sync holding the row, until when (``bizagent.leases``); a sync that died
    #: leaves the row to the next one once the lease lapses.
    claim = models.UUIDField(null=True, blank=True, db_index=True)
    claim_expires_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="sheetrow_due_idx")]

    def __str__(self) -> str:
        return f"{self.tab} {self.uuid} ({self.status})"
