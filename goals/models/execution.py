"""Goal execution: the workflows the planner may choose (CatalogueItem), the runs a plan
started (GoalRun) and the reports sent about it (GoalReport).

Only ``goals.services`` writes these rows.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from goals.models.goal import Goal, PlanRevision
from goals.vocabulary import CURRENCY_EXPONENTS, Metric


class CatalogueItem(models.Model):
    """One workflow the planner may choose, with the yield and cost a person edits.

    Seeded from ``goals/catalogue/*.json`` with honest defaults and a note on where each
    default comes from (``yield_source``); a person corrects them in the admin once real
    figures exist. ``yield_per_unit`` is in the driven metric's unit per unit of volume
    (customers or trials per email sent; major currency units per unit for revenue);
    ``unit_cost`` is in major units of ``currency``; ``volume_param`` is the workflow
    input the planner sets to the daily volume, capped at ``max_per_day``;
    ``run_inputs`` are the workflow's other inputs a person configures once (where the
    prospects come from, which email API sends), given to every run the executor starts.
    """

    key = models.SlugField(
        max_length=64, unique=True, help_text=_("Stable name used in plans."), verbose_name=_("key")
    )
    title = models.CharField(max_length=200, verbose_name=_("title"))
    workflow = models.SlugField(
        max_length=100,
        help_text=_("Key of the workflow this item runs (its published version)."),
        verbose_name=_("workflow"),
    )
    description = models.TextField(blank=True, verbose_name=_("description"))
    metric = models.CharField(max_length=16, choices=Metric.choices, verbose_name=_("metric"))
    unit = models.CharField(
        max_length=100, help_text=_("What one unit of volume is."), verbose_name=_("unit")
    )
    yield_per_unit = models.DecimalField(
        max_digits=14,
        decimal_places=6,
        validators=[MinValueValidator(Decimal(0))],
        verbose_name=_("yield per unit"),
    )
    unit_cost = models.DecimalField(
        max_digits=14,
        decimal_places=4,
        validators=[MinValueValidator(Decimal(0))],
        verbose_name=_("unit cost"),
    )
    currency = models.CharField(max_length=3, verbose_name=_("currency"))
    volume_param = models.CharField(max_length=64, verbose_name=_("volume param"))
    max_per_day = models.PositiveIntegerField(
        validators=[MinValueValidator(1)], verbose_name=_("max per day")
    )
    yield_source = models.TextField(
        help_text=_("Where the default yield and cost come from."), verbose_name=_("yield source")
    )
    enabled = models.BooleanField(
        default=True, help_text=_("Offered to the planner."), verbose_name=_("enabled")
    )
    run_inputs = models.JSONField(
        default=dict,
        blank=True,
        help_text=(
            _(
                "The workflow's other inputs, set once by a person: the addresses of your own "
                "services (prospect list, email API, webhook), language, product, sender. Stored "
                "with every run, so never a password or an API key."
            )
        ),
        verbose_name=_("run inputs"),
    )
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("updated by"),
    )

    class Meta:
        verbose_name = _("catalogue item")
        verbose_name_plural = _("catalogue items")
        ordering = ["key"]
        constraints = [
            models.CheckConstraint(condition=Q(max_per_day__gte=1), name="goals_catalogue_cap"),
            models.CheckConstraint(
                condition=Q(yield_per_unit__gte=0) & Q(unit_cost__gte=0),
                name="goals_catalogue_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        if self.currency not in CURRENCY_EXPONENTS:
            known = ", ".join(sorted(CURRENCY_EXPONENTS))
            raise ValidationError(
                {
                    "currency": _("Unknown currency %(currency)s: use one of %(known)s.")
                    % {"currency": repr(self.currency), "known": known}
                }
            )


class GoalRun(models.Model):
    """One workflow run a goal's plan started: which action, for which day, which attempt.

    Unique per (goal, action, day, attempt), so two executors racing on the same day
    start one run, and a failed run is retried as the next attempt (at most
    ``MAX_ATTEMPTS``). The row is written before the run is created (``pending``), so a
    crash in between is found and finished by the next tick instead of starting twice.
    """

    MAX_ATTEMPTS = 3

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        STARTED = "started", _("Started")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Skipped")

    TRANSITIONS: dict[str, tuple[str, ...]] = {
        Status.PENDING: (Status.STARTED, Status.FAILED, Status.SKIPPED),
        Status.STARTED: (Status.SUCCEEDED, Status.FAILED),
        Status.SUCCEEDED: (),
        Status.FAILED: (),
        Status.SKIPPED: (),
    }

    goal = models.ForeignKey(
        Goal, on_delete=models.CASCADE, related_name="goal_runs", verbose_name=_("goal")
    )
    revision = models.ForeignKey(
        PlanRevision, on_delete=models.PROTECT, related_name="goal_runs", verbose_name=_("revision")
    )
    action = models.SlugField(
        max_length=64, help_text=_("The catalogue item's key."), verbose_name=_("action")
    )
    day = models.DateField(help_text=_("The plan day this run works for."), verbose_name=_("day"))
    attempt = models.PositiveSmallIntegerField(default=1, verbose_name=_("attempt"))
    params = models.JSONField(
        default=dict, blank=True, help_text=_("The run's input."), verbose_name=_("params")
    )
    run = models.ForeignKey(
        "workflows.Run",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("run"),
    )
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING, verbose_name=_("status")
    )
    spend = models.BigIntegerField(
        default=0,
        help_text=_("What it cost, in minor units of the goal's budget currency."),
        verbose_name=_("spend"),
    )
    error = models.TextField(blank=True, verbose_name=_("error"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    started_at = models.DateTimeField(null=True, blank=True, verbose_name=_("started at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))

    class Meta:
        verbose_name = _("goal run")
        verbose_name_plural = _("goal runs")
        ordering = ["goal", "day", "action", "attempt"]
        constraints = [
            models.UniqueConstraint(
                fields=["goal", "action", "day", "attempt"], name="goals_goalrun_once"
            ),
            models.CheckConstraint(
                condition=Q(attempt__gte=1) & Q(attempt__lte=3), name="goals_goalrun_attempts"
            ),
        ]
        indexes = [models.Index(fields=["status", "day"], name="goals_goalrun_status_day")]

    def __str__(self) -> str:
        return f"goal #{self.goal_id} {self.action} {self.day} #{self.attempt} ({self.status})"

    @classmethod
    def transition_allowed(cls, current: str, new: str) -> bool:
        return new in cls.TRANSITIONS.get(current, ())


class GoalReport(models.Model):
    """One report on a goal: daily, weekly, or final (reached or missed).

    Unique per (goal, kind, period_end), so a report is written and sent once however
    often the schedule fires. ``figures`` holds everything the mail, the Sheets rows and
    the admin show, computed when the report was made (a report does not change later).
    """

    class Kind(models.TextChoices):
        DAILY = "daily", _("Daily")
        WEEKLY = "weekly", _("Weekly")
        FINAL = "final", _("Final")

    goal = models.ForeignKey(
        Goal, on_delete=models.CASCADE, related_name="reports", verbose_name=_("goal")
    )
    kind = models.CharField(max_length=8, choices=Kind.choices, verbose_name=_("kind"))
    period_start = models.DateField(verbose_name=_("period start"))
    period_end = models.DateField(verbose_name=_("period end"))
    figures = models.JSONField(default=dict, verbose_name=_("figures"))
    emailed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("emailed at"))
    recipients = models.PositiveIntegerField(default=0, verbose_name=_("recipients"))
    #: The languages whose mail went out (one message per language): a retry after a
    #: partial send sends only the others.
    languages_emailed = models.JSONField(
        default=list, blank=True, verbose_name=_("languages emailed")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("goal report")
        verbose_name_plural = _("goal reports")
        ordering = ["goal", "-period_end", "kind"]
        constraints = [
            models.UniqueConstraint(
                fields=["goal", "kind", "period_end"], name="goals_goalreport_once"
            ),
            models.CheckConstraint(
                condition=Q(period_end__gte=models.F("period_start")),
                name="goals_goalreport_period_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"goal #{self.goal_id} {self.kind} report to {self.period_end}"
