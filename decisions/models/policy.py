"""Staff-editable policy thresholds (one row)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone


class PolicySettings(models.Model):
    """The lines past which an action needs a person. Defaults come from the design."""

    SINGLETON_ID = 1

    budget_overrun_fraction = models.DecimalField(
        max_digits=5,
        decimal_places=3,
        default=Decimal("0.100"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text="A budget forecast more than this fraction over its limit needs a person.",
    )
    parameter_tweak_fraction = models.DecimalField(
        max_digits=5,
        decimal_places=3,
        default=Decimal("0.100"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text="Parameter changes within ± this fraction run automatically.",
    )
    strategy_change_fraction = models.DecimalField(
        max_digits=5,
        decimal_places=3,
        default=Decimal("0.200"),
        validators=[MinValueValidator(Decimal("0.001"))],
        help_text="A strategic change of ± this fraction or more needs a person.",
    )
    anomaly_sigma = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=Decimal("3.00"),
        validators=[MinValueValidator(Decimal("0.1"))],
        help_text="A metric this many standard deviations or more from its mean is an anomaly.",
    )
    max_automatic_retries = models.PositiveSmallIntegerField(
        default=3,
        validators=[MaxValueValidator(100)],
        help_text="Retries beyond this need a person.",
    )
    mass_deletion_records = models.PositiveIntegerField(
        default=100,
        validators=[MinValueValidator(1)],
        help_text="Deleting this many customer records or more needs a person.",
    )
    mass_send_recipients = models.PositiveIntegerField(
        default=500,
        validators=[MinValueValidator(1)],
        help_text="An outbound send to this many recipients or more needs a person.",
    )
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = "policy settings"
        verbose_name_plural = "policy settings"
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="decisions_policy_singleton")
        ]

    def __str__(self) -> str:
        return "Policy thresholds"
