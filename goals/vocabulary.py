"""The goals vocabularies that pure code needs too (planner, parser, catalogue).

They live apart from ``goals.models`` so the pure modules import them without loading
the model classes; ``goals.models`` re-exports them, and every caller uses these and
never a string literal.
"""

from __future__ import annotations

from django.db import models

__all__ = ["COUNT_METRICS", "CURRENCY_EXPONENTS", "FieldSource", "Metric", "currency_exponent"]


class Metric(models.TextChoices):
    """What a goal targets and what a catalogue workflow drives."""

    REVENUE = "revenue", "Revenue"
    #: Revenue relative to a baseline window ("前月比20%"); the absolute target is kept too.
    REVENUE_GROWTH = "revenue_growth", "Revenue growth"
    CUSTOMERS = "customers", "Paying customers"
    TRIALS = "trials", "Trials"


#: Metrics counted in units (people), not in money.
COUNT_METRICS = frozenset({Metric.CUSTOMERS, Metric.TRIALS})


class FieldSource(models.TextChoices):
    """How one field of a goal was obtained; anything but ``rules``/``person`` is echoed back."""

    RULES = "rules", "Read by the rules"
    MODEL = "model", "Filled in by the model"
    DEFAULT = "default", "A default"
    PERSON = "person", "Entered or confirmed by a person"


#: Decimal places of each currency's minor unit (ISO 4217). Amounts are stored as
#: integers in the minor unit; JPY has none, so 200万円 is 2000000.
CURRENCY_EXPONENTS: dict[str, int] = {"JPY": 0, "USD": 2, "EUR": 2, "GBP": 2}


def currency_exponent(currency: str) -> int:
    """The minor-unit exponent of ``currency``; an unknown code is a clear error."""
    try:
        return CURRENCY_EXPONENTS[currency]
    except KeyError:
        known = ", ".join(sorted(CURRENCY_EXPONENTS))
        raise ValueError(f"unknown currency {currency!r}: expected one of {known}") from None
