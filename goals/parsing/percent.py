"""Growth percentages and their baselines: "前月比20%増", "2割アップ", "up 15% over last
month", "前年同月比10%減", "grow revenue 20% YoY".

The baseline window is computed against the goal's period start (or today when there is
no period yet): "来月の売上を前月比20%増" compares next month with this month. Inclusive
ends, as everywhere in the parser.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from goals.parsing.numbers import japanese_number
from goals.parsing.periods import add_months, mask, month_end, week_start
from goals.parsing.result import DateWindow, GoalParseError

# Above this the text is a typo (2000% growth), not a goal.
MAX_GROWTH_PCT = Decimal(1000)

_PERCENT_RE = re.compile(
    r"(?P<minus>[-−‐–]\s*|マイナス\s*)?(?P<n>\d+(?:\.\d+)?)\s*(?:%|パーセント|percent\b|pct\b)"
)
# 割 is tenths: 2割 = 20%. 割引 (a discount) is not a growth target.
_WARI_RE = re.compile(r"(?P<minus>[-−‐–]\s*|マイナス\s*)?(?P<n>\d+|[一二三四五六七八九十])割(?!引)")

_UP = re.compile(
    r"増|アップ|上げ|伸ば|伸び|成長|拡大|\b(?:up|increase[sd]?|grow(?:th|s|n)?|raise|boost|more|higher)\b"
)
_DOWN = re.compile(r"減|ダウン|下げ|\b(?:down|decrease[sd]?|drop|cut|reduce|fewer|less|lower)\b")


def _previous_month(anchor: dt.date) -> DateWindow:
    end = anchor.replace(day=1) - dt.timedelta(days=1)
    return DateWindow(end.replace(day=1), end)


def _same_month_last_year(anchor: dt.date) -> DateWindow:
    start = add_months(anchor.replace(day=1), -12)
    return DateWindow(start, month_end(start))


def _previous_week(anchor: dt.date) -> DateWindow:
    start = week_start(anchor) - dt.timedelta(days=7)
    return DateWindow(start, start + dt.timedelta(days=6))


def _previous_year(anchor: dt.date) -> DateWindow:
    return DateWindow(dt.date(anchor.year - 1, 1, 1), dt.date(anchor.year - 1, 12, 31))


_COMPARED = r"(?:over|vs\.?|versus|compared (?:to|with)|from|than)\s+(?:the\s+)?"
# Order matters: 前年同月比 before 前年比, "same month last year" before "last year".
# YoY reads as 前年同月比 (how monthly reports use it); "over last year" is the calendar year.
BASELINE_RULES: list[tuple[re.Pattern[str], Callable[[dt.date], DateWindow]]] = [
    (
        re.compile(
            rf"前年同月比|昨年同月比|\byoy\b|year[- ]over[- ]year"
            rf"|{_COMPARED}same month (?:of )?last year"
        ),
        _same_month_last_year,
    ),
    (
        re.compile(
            rf"前月比|先月比|\bmom\b|month[- ]over[- ]month"
            rf"|{_COMPARED}(?:last|previous|prior) month"
        ),
        _previous_month,
    ),
    (
        re.compile(
            rf"前週比|先週比|\bwow\b|week[- ]over[- ]week|{_COMPARED}(?:last|previous|prior) week"
        ),
        _previous_week,
    ),
    (
        re.compile(rf"前年比|昨年比|{_COMPARED}(?:last|previous|prior) year"),
        _previous_year,
    ),
]


@dataclass(frozen=True)
class PercentFinding:
    """The growth percentages named (signed: 減/down is negative) and the baseline rule."""

    values: list[Decimal]
    baseline: Callable[[dt.date], DateWindow] | None
    conflicting_direction: bool


def percent_find(text: str) -> tuple[PercentFinding, str]:
    """Find percentages and a baseline, and mask both out of the text."""
    values: list[Decimal] = []
    baseline: Callable[[dt.date], DateWindow] | None = None
    for pattern, rule in BASELINE_RULES:
        match = pattern.search(text)
        if match:
            baseline = baseline or rule
            text = mask(text, match.span())
    raw: list[tuple[Decimal, str]] = []
    for match in list(_PERCENT_RE.finditer(text)):
        raw.append((Decimal(match.group("n")), match.group()))
        _refuse_minus(match)
        text = mask(text, match.span())
    for match in list(_WARI_RE.finditer(text)):
        raw.append((japanese_number(match.group("n")) * 10, match.group()))
        _refuse_minus(match)
        text = mask(text, match.span())
    up, down = bool(_UP.search(text)), bool(_DOWN.search(text))
    sign = -1 if down and not up else 1
    for value, phrase in raw:
        if value <= 0:
            raise GoalParseError("zero_percent", f"{phrase.strip()!r} is no change; name a growth")
        if value > MAX_GROWTH_PCT:
            raise GoalParseError(
                "percent_too_large", f"{phrase.strip()!r} is more than {MAX_GROWTH_PCT}%"
            )
        # Decimal("20").normalize() would print as 2E+1; keep whole numbers whole.
        plain = Decimal(int(value)) if value == value.to_integral_value() else value.normalize()
        values.append(plain * sign)
    return PercentFinding(values, baseline, conflicting_direction=up and down and bool(raw)), text


def _refuse_minus(match: re.Match[str]) -> None:
    if match.group("minus"):
        raise GoalParseError(
            "negative_percent",
            f"{match.group().strip()!r} is negative; say 減 or 'down' for a decrease",
        )
