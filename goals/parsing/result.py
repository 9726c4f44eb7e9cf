"""The parser's vocabulary and result shapes (pure: no ORM, no settings, no I/O).

Dates: every window (period, baseline) is *inclusive at both ends*: ``end`` is the last
day that counts, and ``days == (end - start).days + 1``. "1週間" from Monday is Monday
..Sunday, 7 days. Inclusive ends read the same way a person says "until the 31st", and
the planner divides by ``days`` without an off-by-one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from goals.vocabulary import CURRENCY_EXPONENTS, FieldSource, Metric


class GoalParseError(ValueError):
    """The text cannot be a goal (negative amount, absurd period, too long, ...).

    ``code`` is stable for callers and tests; the message names what is wrong and is
    safe to show to the person who typed the text.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# One vocabulary for goals (parser, planner, models): defined in ``goals.vocabulary``.


@dataclass(frozen=True)
class DateWindow:
    """An inclusive date range (see the module docstring)."""

    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def to_json(self) -> dict[str, Any]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "days": self.days}


@dataclass(frozen=True)
class Question:
    """Something a person (or, for gaps, the model) must answer before the goal runs.

    ``code`` is stable (a UI may translate it); ``text`` is a plain English prompt.
    """

    field: str
    code: str
    text: str

    def to_json(self) -> dict[str, str]:
        return {"field": self.field, "code": self.code, "text": self.text}


@dataclass(frozen=True)
class ParsedGoal:
    """What the rules understood of one sentence. Nothing here is invented: a field the
    rules could not find is None, listed in ``gaps`` and asked in ``questions``."""

    text: str
    metric: Metric | None
    target_amount: int | None  # minor units of ``currency``; a plain count for counts
    currency: str | None  # None for count metrics (customers, trials)
    growth_pct: Decimal | None
    baseline: DateWindow | None
    period: DateWindow | None
    fields_from: dict[str, FieldSource] = field(default_factory=dict)
    questions: tuple[Question, ...] = ()
    # The seam for the model slice: the fields it may fill through a structured call.
    gaps: tuple[str, ...] = ()

    @property
    def needs_confirmation(self) -> bool:
        """True when a person must see the result before anything runs: something is
        missing or ambiguous, or a field came from a default (or, later, the model)."""
        return bool(self.questions) or any(
            source in (FieldSource.DEFAULT, FieldSource.MODEL)
            for source in self.fields_from.values()
        )

    def target_major(self) -> str | None:
        """The target as a string in major units ("2000000", "5000.00")."""
        if self.target_amount is None:
            return None
        exponent = CURRENCY_EXPONENTS.get(self.currency or "", 0)
        if exponent == 0:
            return str(self.target_amount)
        return str(
            Decimal(self.target_amount).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent))
        )

    def to_json(self) -> dict[str, Any]:
        """The issue's ``goal`` document: amounts as strings in major units, dates ISO.
        ``baseline.amount`` is unknown to the parser (it comes from metric sources)."""
        baseline = None
        if self.baseline is not None:
            baseline = {
                "start": self.baseline.start.isoformat(),
                "end": self.baseline.end.isoformat(),
                "amount": None,
            }
        return {
            "metric": self.metric.value if self.metric else None,
            "target_amount": self.target_major(),
            "currency": self.currency,
            "growth_pct": str(self.growth_pct) if self.growth_pct is not None else None,
            "baseline": baseline,
            "period": self.period.to_json() if self.period else None,
            "fields_from": {name: source.value for name, source in self.fields_from.items()},
            "questions": [question.to_json() for question in self.questions],
            "gaps": list(self.gaps),
        }
