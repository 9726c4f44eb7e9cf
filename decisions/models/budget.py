"""Budgets and their spend ledger. Spent, remaining and forecast are computed
(``decisions.selectors.budget_status``), never stored twice."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# ISO 4217 currencies without a minor unit: amounts must be whole numbers.
ZERO_DECIMAL_CURRENCIES = frozenset({"JPY", "KRW", "VND", "CLP", "ISK", "UGX", "XAF", "XOF"})


def currency_amount_check(amount: Decimal | None, currency: str, field: str) -> None:
    if amount is None or not currency:
        return
    if currency in ZERO_DECIMAL_CURRENCIES and amount != amount.to_integral_value():
        raise ValidationError(
            {
                field: _("%(currency)s has no minor unit: use a whole amount.")
                % {"currency": currency}
            }
        )


def money_quantise(amount: Decimal, currency: str) -> Decimal:
    """``amount`` with the currency's minor unit: 100000 JPY, 12.50 USD."""
    exponent = Decimal("1") if currency in ZERO_DECIMAL_CURRENCIES else Decimal("0.01")
    return Decimal(amount).quantize(exponent)


class Period(models.TextChoices):
    DAILY = "daily", _("Daily")
    WEEKLY = "weekly", _("Weekly (from Monday)")
    MONTHLY = "monthly", _("Monthly")
    # Themes plan budgets per quarter (ideas/schemas: constraints.budget.period).
    QUARTERLY = "quarterly", _("Quarterly (Jan, Apr, Jul, Oct)")


class Budget(models.Model):
    """A spending limit per period for a scope: global (no scope) or any object (a goal)."""

    name = models.CharField(max_length=200, verbose_name=_("name"))
    scope_type = models.ForeignKey(
        ContentType,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("scope type"),
    )
    scope_id = models.PositiveBigIntegerField(null=True, blank=True, verbose_name=_("scope id"))
    scope = GenericForeignKey("scope_type", "scope_id")
    period = models.CharField(
        max_length=10, choices=Period.choices, default=Period.MONTHLY, verbose_name=_("period")
    )
    limit = models.DecimalField(
        max_digits=18,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0"))],
        verbose_name=_("limit"),
    )
    currency = models.CharField(
        max_length=3,
        default="JPY",
        validators=[
            RegexValidator(r"^[A-Z]{3}$", _("Use a three-letter ISO 4217 code, e.g. JPY."))
        ],
        verbose_name=_("currency"),
    )
    active = models.BooleanField(default=True, verbose_name=_("active"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    updated_at = models.DateTimeField(default=timezone.now, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("budget")
        verbose_name_plural = _("budgets")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(limit__gte=0), name="decisions_budget_limit_gte_0"),
            models.CheckConstraint(
                condition=Q(scope_type__isnull=True, scope_id__isnull=True)
                | Q(scope_type__isnull=False, scope_id__isnull=False),
                name="decisions_budget_scope_whole",
            ),
            models.UniqueConstraint(
                fields=["period", "currency"],
                condition=Q(scope_type__isnull=True, active=True),
                name="decisions_budget_one_active_global",
            ),
            models.UniqueConstraint(
                fields=["scope_type", "scope_id", "period", "currency"],
                condition=Q(scope_type__isnull=False, active=True),
                name="decisions_budget_one_active_per_scope",
            ),
        ]

    def __str__(self) -> str:
        limit = money_quantise(self.limit, self.currency)
        return f"{self.name} ({self.get_period_display().lower()}, {limit} {self.currency})"

    def clean(self) -> None:
        currency_amount_check(self.limit, self.currency, "limit")
        if (self.scope_type_id is None) != (self.scope_id is None):
            raise ValidationError(_("A scope needs both its type and its id (or neither: global)."))

    @property
    def scope_label(self) -> str:
        if self.scope_type is None:
            return "global"
        return f"{self.scope_type.model}:{self.scope_id}"


class BudgetSpend(models.Model):
    """One entry of a budget's ledger. Idempotent per (budget, source, reference)."""

    budget = models.ForeignKey(
        Budget, on_delete=models.PROTECT, related_name="spends", verbose_name=_("budget")
    )
    amount = models.DecimalField(max_digits=18, decimal_places=2, verbose_name=_("amount"))
    source = models.CharField(
        max_length=100, help_text=_("What spent it, e.g. workflow.run."), verbose_name=_("source")
    )
    reference = models.CharField(
        max_length=200, blank=True, default="", verbose_name=_("reference")
    )
    spent_at = models.DateTimeField(default=timezone.now, db_index=True, verbose_name=_("spent at"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("budget spend")
        verbose_name_plural = _("budget spends")
        ordering = ["-spent_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="decisions_spend_nonzero"),
            models.UniqueConstraint(
                fields=["budget", "source", "reference"],
                condition=~Q(reference=""),
                name="decisions_spend_once_per_reference",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.budget.currency} by {self.source}"

    def clean(self) -> None:
        if self.amount == 0:
            raise ValidationError({"amount": _("A spend of zero records nothing.")})
        if self.budget_id:
            currency_amount_check(self.amount, self.budget.currency, "amount")
