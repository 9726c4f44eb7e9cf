"""Decisions: an action that crossed a policy line, waiting for a person."""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone


class DecisionKind(models.TextChoices):
    BUDGET_OVERRUN = "budget_overrun", "Budget overrun"
    NEW_INTEGRATION = "new_integration", "New integration"
    NEW_WORKFLOW = "new_workflow", "New workflow"
    STRATEGY_CHANGE = "strategy_change", "Strategy change"
    ANOMALY = "anomaly", "Anomaly"
    SECURITY_CHANGE = "security_change", "Security change"
    MASS_DELETION = "mass_deletion", "Mass deletion"
    MASS_SEND = "mass_send", "Mass send"
    OTHER = "other", "Other"


class Urgency(models.TextChoices):
    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


URGENCY_RANK: dict[str, int] = {
    Urgency.CRITICAL: 0,
    Urgency.HIGH: 1,
    Urgency.NORMAL: 2,
    Urgency.LOW: 3,
}


class Decision(models.Model):
    """One decision point. Status moves only through ``decisions.services``:

    pending → approved | rejected | expired | cancelled | superseded;
    approved → applied | failed.

    A newer proposal on the same subject and action supersedes the pending older ones
    (``superseded_by``). An approved decision's action runs after commit, once, under a
    lease (``apply_lease_owner`` until ``apply_lease_expires_at``): a lease that lapses
    (the worker died mid-action) is taken over by the governance tick, which re-runs an
    idempotent action or fails the decision for a person to look at. It runs only if
    the digest of its arguments still matches and its premise still holds.
    """

    #: "3 h 05 min left": set by the approval queue on the rows it shows; never stored.
    time_left: str

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        EXPIRED = "expired", "Expired"
        CANCELLED = "cancelled", "Cancelled"
        APPLIED = "applied", "Applied"
        FAILED = "failed", "Failed"
        SUPERSEDED = "superseded", "Superseded"

    TRANSITIONS: dict[str, tuple[str, ...]] = {
        Status.PENDING: (
            Status.APPROVED,
            Status.REJECTED,
            Status.EXPIRED,
            Status.CANCELLED,
            Status.SUPERSEDED,
        ),
        Status.APPROVED: (Status.APPLIED, Status.FAILED),
        Status.REJECTED: (),
        Status.EXPIRED: (),
        Status.CANCELLED: (),
        Status.APPLIED: (),
        Status.FAILED: (),
        Status.SUPERSEDED: (),
    }

    class OnTimeout(models.TextChoices):
        # Holding is the only default: an unanswered decision never proceeds.
        HOLD = "hold", "Hold (do not run the action)"

    kind = models.CharField(max_length=30, choices=DecisionKind.choices)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    title = models.CharField(max_length=300)
    situation = models.TextField(help_text="The situation analysis shown to approvers.")
    impact = models.TextField(blank=True, default="")
    urgency = models.CharField(max_length=10, choices=Urgency.choices, default=Urgency.NORMAL)
    recommendation = models.CharField(max_length=100, blank=True, default="")
    # The model's analysis channel: kept for audit and the critic, never shown to approvers.
    model_analysis = models.TextField(blank=True, default="")

    subject_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    subject_id = models.CharField(max_length=64, blank=True, default="")
    subject = GenericForeignKey("subject_type", "subject_id")
    subject_repr = models.CharField(max_length=200, blank=True, default="")

    action = models.CharField(max_length=100)
    action_args = models.JSONField(default=dict, blank=True)
    action_digest = models.CharField(max_length=64, db_index=True)

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="decisions_requested",
    )
    requested_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField(db_index=True)
    on_timeout = models.CharField(max_length=10, choices=OnTimeout.choices, default=OnTimeout.HOLD)
    reminders_sent = models.PositiveSmallIntegerField(default=0)
    last_reminder_at = models.DateTimeField(null=True, blank=True)
    # Why the last decide-by-mail delivery reached nobody ("" once someone was mailed);
    # shown in the admin so an unmailed decision is not silently waiting.
    undelivered_reason = models.CharField(max_length=300, blank=True, default="")

    chosen_option = models.CharField(max_length=100, blank=True, default="")
    comment = models.TextField(blank=True, default="")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="decisions_decided",
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    superseded_by = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="supersedes",
        help_text="The newer proposal on the same subject and action that replaced this one.",
    )

    # The claim on running the approved action: a lease, never a bare flag, so a worker
    # that dies mid-action leaves a row the governance tick can take over.
    apply_lease_owner = models.CharField(max_length=100, blank=True, default="")
    apply_lease_expires_at = models.DateTimeField(null=True, blank=True)
    apply_attempts = models.PositiveSmallIntegerField(default=0)
    applied_at = models.DateTimeField(null=True, blank=True)
    outcome = models.TextField(blank=True, default="", help_text="What happened in the end.")
    result = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["due_at", "id"]
        permissions = [("approve_decision", "Can approve or reject decisions")]
        indexes = [models.Index(fields=["status", "due_at"], name="decision_status_due_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["action_digest"],
                condition=Q(status="pending"),
                name="decisions_one_pending_per_action",
            ),
            # One pending proposal per subject and action: a newer one supersedes.
            models.UniqueConstraint(
                fields=["subject_type", "subject_id", "action"],
                condition=Q(status="pending", subject_type__isnull=False),
                name="decisions_one_pending_per_subject_action",
            ),
            models.CheckConstraint(
                condition=Q(due_at__gt=models.F("requested_at")),
                name="decisions_due_after_request",
            ),
            models.CheckConstraint(
                condition=Q(apply_lease_owner="") | Q(apply_lease_expires_at__isnull=False),
                name="decisions_apply_lease_expires",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    def clean(self) -> None:
        if self.due_at and self.requested_at and self.due_at <= self.requested_at:
            raise ValidationError({"due_at": "The due time must be after the request time."})

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.PENDING

    @property
    def urgency_rank(self) -> int:
        return URGENCY_RANK.get(self.urgency, 9)


class DecisionOption(models.Model):
    """One answer an approver may choose, with its impact."""

    decision = models.ForeignKey(Decision, on_delete=models.CASCADE, related_name="options")
    key = models.SlugField(max_length=100)
    label = models.CharField(max_length=300)
    impact = models.TextField(blank=True, default="")
    recommended = models.BooleanField(default=False)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["decision", "key"], name="decisions_option_key_unique"),
            models.UniqueConstraint(
                fields=["decision"],
                condition=Q(recommended=True),
                name="decisions_option_one_recommended",
            ),
        ]

    def __str__(self) -> str:
        return self.label
