"""Staff-editable policy thresholds (one row)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class PolicySettings(models.Model):
    """The lines past which an action needs a person. Defaults come from the design."""

    SINGLETON_ID = 1

    budget_overrun_fraction = models.DecimalField(
        max_digits=5,
        decimal_places=3,
        default=Decimal("0.100"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("A budget forecast more than this fraction over its limit needs a person."),
        verbose_name=_("budget overrun fraction"),
    )
    parameter_tweak_fraction = models.DecimalField(
        max_digits=5,
        decimal_places=3,
        default=Decimal("0.100"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Parameter changes within ± this fraction run automatically."),
        verbose_name=_("parameter tweak fraction"),
    )
    strategy_change_fraction = models.DecimalField(
        max_digits=5,
        decimal_places=3,
        default=Decimal("0.200"),
        validators=[MinValueValidator(Decimal("0.001"))],
        help_text=_("A strategic change of ± this fraction or more needs a person."),
        verbose_name=_("strategy change fraction"),
    )
    anomaly_sigma = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=Decimal("3.00"),
        validators=[MinValueValidator(Decimal("0.1"))],
        help_text=_("A metric this many standard deviations or more from its mean is an anomaly."),
        verbose_name=_("anomaly sigma"),
    )
    max_automatic_retries = models.PositiveSmallIntegerField(
        default=3,
        validators=[MaxValueValidator(100)],
        help_text=_("Retries beyond this need a person."),
        verbose_name=_("max automatic retries"),
    )
    mass_deletion_records = models.PositiveIntegerField(
        default=100,
        validators=[MinValueValidator(1)],
        help_text=_("Deleting this many customer records or more needs a person."),
        verbose_name=_("mass deletion records"),
    )
    mass_send_recipients = models.PositiveIntegerField(
        default=500,
        validators=[MinValueValidator(1)],
        help_text=_("An outbound send to this many recipients or more needs a person."),
        verbose_name=_("mass send recipients"),
    )
    updated_at = models.DateTimeField(default=timezone.now, verbose_name=_("updated at"))
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("updated by"),
    )

    class Meta:
        verbose_name = _("policy settings")
        verbose_name_plural = _("policy settings")
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="decisions_policy_singleton")
        ]

    def __str__(self) -> str:
        return "Policy thresholds"
