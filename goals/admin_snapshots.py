"""The MetricSnapshot admin: every reading listed, and a person's manual entry.

Readings from sources are never edited here (a source re-read would overwrite them);
a person adds a manual reading, in major units as they think of money (19.99 USD,
2000000 JPY), which goes through ``snapshot_record(source=manual)`` and so is
idempotent per day and audited under their name.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from bizagent.admin_base import NoChangeAdminMixin, NoDeleteAdminMixin
from goals.models import MetricSnapshot
from goals.services.snapshots import snapshot_record
from goals.vocabulary import CURRENCY_EXPONENTS, currency_exponent

Measure = MetricSnapshot.Measure


class ManualReadingForm(forms.ModelForm):
    """What a person types: metric, day, the value in major units, and a currency for revenue."""

    amount = forms.DecimalField(
        label=_("Value"),
        min_value=Decimal(0),
        max_digits=18,
        decimal_places=3,
        help_text=_("Money in major units (2000000 JPY, 19.99 USD); a count otherwise."),
    )
    currency = forms.ChoiceField(
        choices=[("", "—")] + [(code, code) for code in sorted(CURRENCY_EXPONENTS)],
        required=False,
        help_text=_("For revenue only."),
    )

    class Meta:
        model = MetricSnapshot
        fields = ["metric", "date", "currency"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        metric, amount, currency = data.get("metric"), data.get("amount"), data.get("currency")
        if metric is None or amount is None:
            return data
        if metric == Measure.REVENUE:
            if not currency:
                self.add_error("currency", _("Revenue needs a currency."))
                return data
            scaled = amount.scaleb(currency_exponent(currency))
        else:
            if currency:
                self.add_error("currency", f"{Measure(metric).label} is a count: leave it empty.")
                return data
            scaled = amount
        if scaled != scaled.to_integral_value():
            self.add_error("amount", _("Too many decimal places for this metric or currency."))
            return data
        data["value_minor"] = int(scaled.quantize(Decimal(1), rounding=ROUND_HALF_UP))
        return data


@admin.register(MetricSnapshot)
class MetricSnapshotAdmin(NoChangeAdminMixin, NoDeleteAdminMixin, admin.ModelAdmin):
    list_display = ["date", "metric", "value_shown", "source", "recorded_at"]
    list_filter = ["source", "metric"]
    date_hierarchy = "date"
    form = ManualReadingForm

    @admin.display(description=_("Value"))
    def value_shown(self, obj: MetricSnapshot) -> str:
        if obj.metric == Measure.REVENUE and obj.currency:
            exponent = CURRENCY_EXPONENTS.get(obj.currency, 2)
            return f"{Decimal(obj.value).scaleb(-exponent):,.{exponent}f} {obj.currency}"
        return f"{obj.value:,}"

    def save_model(
        self, request: HttpRequest, obj: MetricSnapshot, form: forms.ModelForm, change: bool
    ) -> None:
        result = snapshot_record(
            source=MetricSnapshot.Source.MANUAL,
            metric=form.cleaned_data["metric"],
            day=form.cleaned_data["date"],
            value=form.cleaned_data["value_minor"],
            currency=form.cleaned_data.get("currency") or "",
            detail={"entered_by": request.user.get_username()},
            actor=request.user,
        )
        # The admin's log and redirect need the saved row's primary key.
        obj.pk = result.snapshot.pk
