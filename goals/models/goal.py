"""Goals as stated and understood: Goal, its PlanRevisions, the MetricSnapshots it is
measured by, and the webhook bookkeeping that feeds them."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from goals.vocabulary import CURRENCY_EXPONENTS, FieldSource, Metric


class Goal(models.Model):
    """A goal as a person stated it, what was understood, and where it stands.

    ``target_amount`` is in ``metric``'s unit: minor units of ``currency`` for revenue
    (JPY has none: 200万 is 2000000), people for customers and trials. A growth goal keeps
    its percent and baseline window and, once the baseline is read, the absolute target.
    ``fields_from`` says how each understood field was obtained (``FieldSource``); any
    field from the model or a default is shown back before the goal runs.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PLANNED = "planned", _("Planned")
        AWAITING_APPROVAL = "awaiting_approval", _("Awaiting approval")
        ACTIVE = "active", _("Active")
        ACHIEVED = "achieved", _("Achieved")
        MISSED = "missed", _("Missed")
        CANCELLED = "cancelled", _("Cancelled")

    TRANSITIONS: dict[str, tuple[str, ...]] = {
        Status.DRAFT: (Status.PLANNED, Status.CANCELLED),
        # A plan within policy starts at once; one over a policy line asks first.
        Status.PLANNED: (Status.AWAITING_APPROVAL, Status.ACTIVE, Status.CANCELLED),
        # A rejected plan goes back to be re-planned, not silently dropped.
        Status.AWAITING_APPROVAL: (Status.ACTIVE, Status.PLANNED, Status.CANCELLED),
        # Adjustments that need a person are decisions on a revision; the goal stays active.
        Status.ACTIVE: (Status.ACHIEVED, Status.MISSED, Status.CANCELLED),
        Status.ACHIEVED: (),
        Status.MISSED: (),
        Status.CANCELLED: (),
    }
    OPEN_STATUSES = (Status.DRAFT, Status.PLANNED, Status.AWAITING_APPROVAL, Status.ACTIVE)

    #: What ``fields_from`` may name.
    FIELDS = ("metric", "target_amount", "currency", "growth_pct", "baseline", "period", "arpu")

    text = models.TextField(help_text=_("The goal as typed."), verbose_name=_("text"))
    metric = models.CharField(max_length=16, choices=Metric.choices, verbose_name=_("metric"))
    target_amount = models.BigIntegerField(
        help_text=_("In the currency's minor unit for revenue (JPY has none); a count otherwise."),
        verbose_name=_("target amount"),
    )
    currency = models.CharField(
        max_length=3, help_text=_("ISO 4217 code, such as JPY."), verbose_name=_("currency")
    )
    growth_pct = models.DecimalField(
        max_digits=7, decimal_places=2, null=True, blank=True, verbose_name=_("growth pct")
    )
    baseline_start = models.DateField(null=True, blank=True, verbose_name=_("baseline start"))
    baseline_end = models.DateField(null=True, blank=True, verbose_name=_("baseline end"))
    baseline_amount = models.BigIntegerField(
        null=True, blank=True, verbose_name=_("baseline amount")
    )
    #: Both ends included: "1週間" from today is today..today+6.
    period_start = models.DateField(verbose_name=_("period start"))
    period_end = models.DateField(verbose_name=_("period end"))
    status = models.CharField(
        max_length=24, choices=Status.choices, default=Status.DRAFT, verbose_name=_("status")
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("Empty when it came from a webhook or the command line without a user."),
        verbose_name=_("requested by"),
    )
    fields_from = models.JSONField(default=dict, blank=True, verbose_name=_("fields from"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("goal")
        verbose_name_plural = _("goals")
        constraints = [
            models.CheckConstraint(
                condition=Q(target_amount__gt=0), name="goals_goal_target_positive"
            ),
            models.CheckConstraint(
                condition=Q(period_end__gte=models.F("period_start")),
                name="goals_goal_period_ordered",
            ),
            models.CheckConstraint(
                condition=~Q(metric="revenue_growth") | Q(growth_pct__isnull=False),
                name="goals_goal_growth_has_pct",
            ),
            models.CheckConstraint(
                condition=Q(baseline_start__isnull=True, baseline_end__isnull=True)
                | Q(
                    baseline_start__isnull=False,
                    baseline_end__isnull=False,
                    baseline_end__gte=models.F("baseline_start"),
                ),
                name="goals_goal_baseline_window",
            ),
        ]
        indexes = [models.Index(fields=["status", "period_end"], name="goals_goal_status")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.text[:60]} ({self.status})"

    @classmethod
    def transition_allowed(cls, current: str, new: str) -> bool:
        """Whether the table lets a goal go from ``current`` to ``new``."""
        return new in cls.TRANSITIONS.get(current, ())

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.currency not in CURRENCY_EXPONENTS:
            known = ", ".join(sorted(CURRENCY_EXPONENTS))
            errors["currency"] = _("Unknown currency %(currency)s: use one of %(known)s.") % {
                "currency": repr(self.currency),
                "known": known,
            }
        if not isinstance(self.fields_from, dict):
            errors["fields_from"] = "Must map a field name to how it was obtained."
        else:
            bad = sorted(
                # str(): a TextChoices member's repr names its class, not its value.
                f"{name}={(str(how) if isinstance(how, str) else how)!r}"
                for name, how in self.fields_from.items()
                if name not in self.FIELDS or how not in FieldSource.values
            )
            if bad:
                errors["fields_from"] = (
                    f"Not a field or not a source: {', '.join(bad)} (fields: "
                    f"{', '.join(self.FIELDS)}; sources: {', '.join(FieldSource.values)})."
                )
        if errors:
            raise ValidationError(errors)

    @property
    def needs_confirmation(self) -> bool:
        """True when any field came from the model or a default: echo it back first."""
        return any(
            how in (FieldSource.MODEL, FieldSource.DEFAULT) for how in self.fields_from.values()
        )


class PlanRevision(models.Model):
    """One numbered plan of a goal: its figures, why, and who approved it.

    ``document`` is the plan as the planner produced it (``Decomposition.to_json()`` plus
    the chosen workflows); numbers are never edited in place: an adjustment or re-plan is
    a new revision. ``approved_at`` without ``approved_by`` means the policy let the
    system start it within its mandate.
    """

    class Reason(models.TextChoices):
        INITIAL = "initial", _("First plan")
        ADJUSTMENT = "adjustment", _("Volume adjustment")
        REPLAN = "replan", _("Re-plan")

    class Author(models.TextChoices):
        MODEL = "model", _("The model chose the workflows")
        FALLBACK = "fallback", _("Deterministic fallback")
        PERSON = "person", _("A person")

    goal = models.ForeignKey(
        Goal, on_delete=models.CASCADE, related_name="revisions", verbose_name=_("goal")
    )
    number = models.PositiveIntegerField(
        help_text=_("1 for the first plan, then 2, 3, ..."), verbose_name=_("number")
    )
    reason = models.CharField(
        max_length=16, choices=Reason.choices, default=Reason.INITIAL, verbose_name=_("reason")
    )
    author = models.CharField(
        max_length=16, choices=Author.choices, default=Author.FALLBACK, verbose_name=_("author")
    )
    document = models.JSONField(default=dict, verbose_name=_("document"))
    rationale = models.TextField(blank=True, verbose_name=_("rationale"))
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("approved by"),
    )
    approved_at = models.DateTimeField(null=True, blank=True, verbose_name=_("approved at"))
    decision_id = models.BigIntegerField(
        null=True,
        blank=True,
        help_text=_("The decision that asked a person, when one did."),
        verbose_name=_("decision ID"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("plan revision")
        verbose_name_plural = _("plan revisions")
        ordering = ["goal", "number"]
        constraints = [
            models.UniqueConstraint(fields=["goal", "number"], name="goals_planrevision_number"),
            models.CheckConstraint(condition=Q(number__gte=1), name="goals_planrevision_from_one"),
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True) | Q(approved_at__isnull=False),
                name="goals_planrevision_approver_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"goal #{self.goal_id} plan r{self.number}"


class MetricSnapshot(models.Model):
    """One reading of one metric on one day from one source.

    Idempotent per (source, metric, date): a source read twice, or a webhook delivered
    again, updates its day's row instead of counting twice. ``value`` is in minor units
    of ``currency`` for revenue and a count otherwise.
    """

    class Source(models.TextChoices):
        WHOP = "whop", _("Whop API")
        WHOP_WEBHOOK = "whop_webhook", _("Whop webhooks")
        SHEETS = "sheets", _("Google Sheets")
        WORKFLOW_RUNS = "workflow_runs", _("Workflow run outputs")
        MANUAL = "manual", _("Entered by a person")

    class Measure(models.TextChoices):
        """What a source reads: growth is derived from revenue, never read."""

        REVENUE = Metric.REVENUE.value, _("Revenue")
        CUSTOMERS = Metric.CUSTOMERS.value, _("Paying customers")
        TRIALS = Metric.TRIALS.value, _("Trials")
        SENDS = "sends", _("Sends")

    source = models.CharField(max_length=16, choices=Source.choices, verbose_name=_("source"))
    metric = models.CharField(max_length=16, choices=Measure.choices, verbose_name=_("metric"))
    date = models.DateField(verbose_name=_("date"))
    value = models.BigIntegerField(verbose_name=_("value"))
    currency = models.CharField(
        max_length=3, blank=True, help_text=_("For revenue only."), verbose_name=_("currency")
    )
    detail = models.JSONField(
        default=dict, blank=True, help_text=_("What the source returned."), verbose_name=_("detail")
    )
    recorded_at = models.DateTimeField(auto_now=True, verbose_name=_("recorded at"))

    class Meta:
        verbose_name = _("metric snapshot")
        verbose_name_plural = _("metric snapshots")
        ordering = ["-date", "metric"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "metric", "date"], name="goals_metricsnapshot_once_per_day"
            ),
            models.CheckConstraint(
                condition=(Q(metric="revenue") & ~Q(currency=""))
                | (~Q(metric="revenue") & Q(currency="")),
                name="goals_metricsnapshot_currency_for_revenue",
            ),
        ]
        indexes = [models.Index(fields=["metric", "date"], name="goals_snapshot_metric_date")]

    def __str__(self) -> str:
        return f"{self.metric} {self.date} = {self.value} ({self.source})"


class WebhookDelivery(models.Model):
    """A webhook delivery already handled, by its ``webhook-id``.

    Senders retry a delivery with the same id until they see a 2xx; storing the id in
    the transaction that applied the event makes a replay a no-op instead of a double
    count.
    """

    id = models.CharField(primary_key=True, max_length=255, verbose_name=_("id"))
    received_at = models.DateTimeField(auto_now_add=True, verbose_name=_("received at"))

    class Meta:
        verbose_name = _("webhook delivery")
        ordering = ["-received_at"]
        verbose_name_plural = _("webhook deliveries")

    def __str__(self) -> str:
        return self.id


class GoalOrigin(models.Model):
    """One chat message delivered to the goal webhook, and the first answer it got.

    Chat tools deliver at least once (Slack and Telegram retry a slow or failed
    delivery), so the webhook is idempotent per (``source``, ``message_id``): a replay
    returns ``answer`` as first given and creates nothing. The row is kept even when the
    answer was questions (no goal saved), so a replay neither asks the model again nor
    answers differently. ``goal`` is the goal the message created, when it created one.
    """

    source = models.CharField(
        max_length=32, help_text=_("The chat tool: slack, telegram, ..."), verbose_name=_("source")
    )
    message_id = models.CharField(
        max_length=200, help_text=_("The tool's id of the message."), verbose_name=_("message ID")
    )
    goal = models.ForeignKey(
        Goal,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="origins",
        verbose_name=_("goal"),
    )
    status_code = models.PositiveSmallIntegerField(
        help_text=_("The HTTP status first answered."), verbose_name=_("status code")
    )
    answer = models.JSONField(
        default=dict, help_text=_("The body first answered."), verbose_name=_("answer")
    )
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("Whose API token delivered it."),
        verbose_name=_("received by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("goal origin")
        verbose_name_plural = _("goal origins")
        constraints = [
            models.UniqueConstraint(
                fields=["source", "message_id"], name="goals_goalorigin_once_per_message"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source}:{self.message_id[:40]} → goal #{self.goal_id}"
