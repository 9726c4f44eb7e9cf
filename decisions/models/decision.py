"""Decisions: an action that crossed a policy line, waiting for a person."""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class DecisionKind(models.TextChoices):
    BUDGET_OVERRUN = "budget_overrun", _("Budget overrun")
    NEW_INTEGRATION = "new_integration", _("New integration")
    NEW_WORKFLOW = "new_workflow", _("New workflow")
    STRATEGY_CHANGE = "strategy_change", _("Strategy change")
    ANOMALY = "anomaly", _("Anomaly")
    SECURITY_CHANGE = "security_change", _("Security change")
    MASS_DELETION = "mass_deletion", _("Mass deletion")
    MASS_SEND = "mass_send", _("Mass send")
    OTHER = "other", _("Other")


class Urgency(models.TextChoices):
    LOW = "low", _("Low")
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("High")
    CRITICAL = "critical", _("Critical")


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
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        EXPIRED = "expired", _("Expired")
        CANCELLED = "cancelled", _("Cancelled")
        APPLIED = "applied", _("Applied")
        FAILED = "failed", _("Failed")
        SUPERSEDED = "superseded", _("Superseded")

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
        HOLD = "hold", _("Hold (do not run the action)")

    kind = models.CharField(max_length=30, choices=DecisionKind.choices, verbose_name=_("kind"))
    status = models.CharField(
        max_length=20,
        choices=Status.choices,
        default=Status.PENDING,
        db_index=True,
        verbose_name=_("status"),
    )
    title = models.CharField(max_length=300, verbose_name=_("title"))
    situation = models.TextField(
        help_text=_("The situation analysis shown to approvers."), verbose_name=_("situation")
    )
    impact = models.TextField(blank=True, default="", verbose_name=_("impact"))
    urgency = models.CharField(
        max_length=10, choices=Urgency.choices, default=Urgency.NORMAL, verbose_name=_("urgency")
    )
    recommendation = models.CharField(
        max_length=100, blank=True, default="", verbose_name=_("recommendation")
    )
    # The model's analysis channel: kept for audit and the critic, never shown to approvers.
    model_analysis = models.TextField(blank=True, default="", verbose_name=_("model analysis"))

    subject_type = models.ForeignKey(
        ContentType,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("subject type"),
    )
    subject_id = models.CharField(
        max_length=64, blank=True, default="", verbose_name=_("subject id")
    )
    subject = GenericForeignKey("subject_type", "subject_id")
    subject_repr = models.CharField(
        max_length=200, blank=True, default="", verbose_name=_("subject repr")
    )

    action = models.CharField(max_length=100, verbose_name=_("action"))
    action_args = models.JSONField(default=dict, blank=True, verbose_name=_("action args"))
    action_digest = models.CharField(max_length=64, db_index=True, verbose_name=_("action digest"))

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="decisions_requested",
        verbose_name=_("requested by"),
    )
    requested_at = models.DateTimeField(default=timezone.now, verbose_name=_("requested at"))
    due_at = models.DateTimeField(db_index=True, verbose_name=_("due at"))
    on_timeout = models.CharField(
        max_length=10,
        choices=OnTimeout.choices,
        default=OnTimeout.HOLD,
        verbose_name=_("on timeout"),
    )
    reminders_sent = models.PositiveSmallIntegerField(default=0, verbose_name=_("reminders sent"))
    last_reminder_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("last reminder at")
    )
    # Why the last decide-by-mail delivery reached nobody ("" once someone was mailed);
    # shown in the admin so an unmailed decision is not silently waiting.
    undelivered_reason = models.CharField(
        max_length=300, blank=True, default="", verbose_name=_("undelivered reason")
    )

    chosen_option = models.CharField(
        max_length=100, blank=True, default="", verbose_name=_("chosen option")
    )
    comment = models.TextField(blank=True, default="", verbose_name=_("comment"))
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="decisions_decided",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(null=True, blank=True, verbose_name=_("decided at"))

    superseded_by = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="supersedes",
        help_text=_("The newer proposal on the same subject and action that replaced this one."),
        verbose_name=_("superseded by"),
    )

    # The claim on running the approved action: a lease, never a bare flag, so a worker
    # that dies mid-action leaves a row the governance tick can take over.
    apply_lease_owner = models.CharField(
        max_length=100, blank=True, default="", verbose_name=_("apply lease owner")
    )
    apply_lease_expires_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("apply lease expires at")
    )
    apply_attempts = models.PositiveSmallIntegerField(default=0, verbose_name=_("apply attempts"))
    applied_at = models.DateTimeField(null=True, blank=True, verbose_name=_("applied at"))
    outcome = models.TextField(
        blank=True, default="", help_text=_("What happened in the end."), verbose_name=_("outcome")
    )
    result = models.JSONField(default=dict, blank=True, verbose_name=_("result"))

    class Meta:
        verbose_name = _("decision")
        verbose_name_plural = _("decisions")
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
            raise ValidationError({"due_at": _("The due time must be after the request time.")})

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.PENDING

    @property
    def urgency_rank(self) -> int:
        return URGENCY_RANK.get(self.urgency, 9)


class DecisionOption(models.Model):
    """One answer an approver may choose, with its impact."""

    decision = models.ForeignKey(
        Decision, on_delete=models.CASCADE, related_name="options", verbose_name=_("decision")
    )
    key = models.SlugField(max_length=100, verbose_name=_("key"))
    label = models.CharField(max_length=300, verbose_name=_("label"))
    impact = models.TextField(blank=True, default="", verbose_name=_("impact"))
    recommended = models.BooleanField(default=False, verbose_name=_("recommended"))

    class Meta:
        verbose_name = _("decision option")
        verbose_name_plural = _("decision options")
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
