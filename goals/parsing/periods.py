"""Periods from a rule table: N日/N週間/Nヶ月/N年, 今週/今月/来月/今四半期/..., "30 days",
"this month", "next quarter", "by 2025-03-31", "3月31日まで".

Two kinds of rule, documented because they differ on purpose:
- a *duration* ("1週間", "30 days") starts today: 1週間 is today..today+6;
- a *calendar unit* ("今月", "this week", "next quarter") is the whole unit, even when it
  started before today, because "今月200万" means the month's revenue; the planner counts
  what the month already achieved and divides what remains by the days left.
- a *deadline* ("by 3/31", "月末まで") runs from today to that day, inclusive.
Ambiguous phrases (来期, "soon") produce a question, never a guess. Every window is
inclusive at both ends (see ``goals.parsing.result``).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass

from goals.parsing.numbers import japanese_number
from goals.parsing.result import DateWindow, GoalParseError, Question

# A business goal longer than three years is a typo ("100年"), not a plan.
MAX_PERIOD_DAYS = 3 * 366

_EN_NUMBERS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
}
_MONTHS = {
    name: index
    for index in range(1, 13)
    for name in (calendar.month_name[index].lower(), calendar.month_abbr[index].lower())
}
_COUNT = (
    r"(?P<n>\d+|[〇一二三四五六七八九十百]+"
    r"|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
)
_MONTH_NAME = "|".join(sorted(_MONTHS, key=len, reverse=True))
_BY = r"(?:by|until|till|through|no later than)"
_UNTIL_JA = r"(?:までに|まで|迄に|迄)"


@dataclass(frozen=True)
class PeriodHit:
    """One rule's reading: a window, or a question when the phrase is ambiguous."""

    window: DateWindow | None
    question: Question | None
    phrase: str


# --- date arithmetic -------------------------------------------------------------------


def month_end(day: dt.date) -> dt.date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later, clamped to the month's end (Jan 31 + 1 → Feb 28)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def quarter_start(day: dt.date) -> dt.date:
    return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def week_start(day: dt.date) -> dt.date:
    """Weeks run Monday..Sunday (ISO 8601, and the Japanese business week)."""
    return day - dt.timedelta(days=day.weekday())


def _count(text: str) -> int:
    lowered = text.lower()
    if lowered in _EN_NUMBERS:
        return _EN_NUMBERS[lowered]
    return int(japanese_number(text))


# --- rule handlers: (match, today) -> window -------------------------------------------


def _duration(unit: str) -> Callable[[re.Match[str], dt.date], DateWindow]:
    def handler(match: re.Match[str], today: dt.date) -> DateWindow:
        count = _count(match.group("n"))
        if count <= 0:
            raise GoalParseError(
                "empty_period", f"{match.group().strip()!r} is not a period: it has no days"
            )
        if count > MAX_PERIOD_DAYS:  # bound before date arithmetic can overflow
            raise GoalParseError("period_too_long", _too_long(match.group()))
        if unit == "day":
            end = today + dt.timedelta(days=count - 1)
        elif unit == "week":
            end = today + dt.timedelta(days=7 * count - 1)
        else:
            months = {"month": 1, "quarter": 3, "half": 6, "year": 12}[unit] * count
            end = add_months(today, months) - dt.timedelta(days=1)
        return DateWindow(today, end)

    return handler


def _calendar(unit: str, offset: int) -> Callable[[re.Match[str], dt.date], DateWindow]:
    def handler(match: re.Match[str], today: dt.date) -> DateWindow:
        if unit == "day":
            return DateWindow(today, today)
        if unit == "week":
            start = week_start(today) + dt.timedelta(days=7 * offset)
            return DateWindow(start, start + dt.timedelta(days=6))
        if unit == "month":
            start = add_months(today.replace(day=1), offset)
            return DateWindow(start, month_end(start))
        if unit == "quarter":
            start = add_months(quarter_start(today), 3 * offset)
            return DateWindow(start, add_months(start, 3) - dt.timedelta(days=1))
        start = dt.date(today.year + offset, 1, 1)
        return DateWindow(start, dt.date(start.year, 12, 31))

    return handler


def _until_month_end(offset: int) -> Callable[[re.Match[str], dt.date], DateWindow]:
    def handler(match: re.Match[str], today: dt.date) -> DateWindow:
        return DateWindow(today, month_end(add_months(today.replace(day=1), offset)))

    return handler


def _half_year(match: re.Match[str], today: dt.date) -> DateWindow:
    return DateWindow(today, add_months(today, 6) - dt.timedelta(days=1))


def _until_year_end(match: re.Match[str], today: dt.date) -> DateWindow:
    return DateWindow(today, dt.date(today.year, 12, 31))


def _deadline(match: re.Match[str], today: dt.date) -> DateWindow:
    """A date named as the last day: "2025-03-31", "3月31日まで", "by March 31", "3月末"."""
    groups = match.groupdict()
    month = int(groups["m"]) if groups.get("m") else _MONTHS[(groups.get("mon") or "").lower()]
    year_given = groups.get("y")
    year = int(year_given) if year_given else today.year
    if not 1 <= month <= 12:
        raise GoalParseError("bad_date", f"{match.group().strip()!r} names no real month")
    last_day = calendar.monthrange(year, month)[1]
    day = last_day if groups.get("end") else int(groups.get("d") or 0)
    if not 1 <= day <= last_day:
        raise GoalParseError("bad_date", f"{match.group().strip()!r} is not a real date")
    end = dt.date(year, month, day)
    if end < today and not year_given:
        # "3月31日まで" said in May means next March.
        end = dt.date(year + 1, month, min(day, calendar.monthrange(year + 1, month)[1]))
    if end < today:
        raise GoalParseError(
            "past_deadline", f"the deadline {end.isoformat()} is before today ({today.isoformat()})"
        )
    return DateWindow(today, end)


def _too_long(phrase: str) -> str:
    return (
        f"{phrase.strip()!r} is longer than a goal can run ({MAX_PERIOD_DAYS} days at most); "
        "split it into shorter goals"
    )


_AMBIGUOUS_FISCAL = Question(
    field="period",
    code="ambiguous_fiscal_period",
    text="Which dates does the fiscal period mean (来期/今期)? Give a start and an end date.",
)
_AMBIGUOUS_VAGUE = Question(
    field="period", code="vague_period", text="By when? Give a date or a number of days."
)

Handler = Callable[[re.Match[str], dt.date], DateWindow]
_RULES: list[tuple[re.Pattern[str], Handler | Question]] = [
    # Ambiguous first: they ask, so nothing later reads 来期 as something else.
    (
        re.compile(r"来期|今期|次期|来季|next (?:fiscal )?(?:period|term)|this (?:fiscal )?term"),
        _AMBIGUOUS_FISCAL,
    ),
    (
        re.compile(
            r"\b(?:soon|asap|as soon as possible|shortly|eventually|some ?day)\b"
            r"|すぐ|近いうち|早めに|早急に|そのうち|いつか"
        ),
        _AMBIGUOUS_VAGUE,
    ),
    # Deadlines with full dates.
    (
        re.compile(
            rf"(?:{_BY}\s+)?(?P<y>\d{{4}})[-/.年](?P<m>\d{{1,2}})[-/.月](?P<d>\d{{1,2}})日?\s*{_UNTIL_JA}?"
        ),
        _deadline,
    ),
    (
        re.compile(
            rf"(?:(?P<y>\d{{4}})年)?(?P<m>\d{{1,2}})月(?:(?P<d>\d{{1,2}})日|(?P<end>末))\s*{_UNTIL_JA}?"
        ),
        _deadline,
    ),
    (re.compile(rf"(?<![\d/])(?P<m>\d{{1,2}})/(?P<d>\d{{1,2}})\s*{_UNTIL_JA}"), _deadline),
    (
        re.compile(
            rf"{_BY}\s+(?:the\s+)?(?P<end>end)\s+of\s+(?P<mon>{_MONTH_NAME})\b(?:,?\s*(?P<y>\d{{4}}))?"
        ),
        _deadline,
    ),
    (
        re.compile(
            rf"{_BY}\s+(?P<mon>{_MONTH_NAME})\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s*(?P<y>\d{{4}}))?"
        ),
        _deadline,
    ),
    (
        re.compile(
            rf"{_BY}\s+(?:the\s+)?(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<mon>{_MONTH_NAME})\b(?:,?\s*(?P<y>\d{{4}}))?"
        ),
        _deadline,
    ),
    # Deadlines at the end of a calendar unit.
    (
        re.compile(
            rf"今月末\s*{_UNTIL_JA}?|(?<!来)月末\s*{_UNTIL_JA}"
            rf"|{_BY}\s+(?:the\s+)?end of (?:the|this) month|{_BY}\s+month[- ]end"
        ),
        _until_month_end(0),
    ),
    (
        re.compile(rf"来月末\s*{_UNTIL_JA}?|{_BY}\s+(?:the\s+)?end of next month"),
        _until_month_end(1),
    ),
    (
        re.compile(
            rf"年末\s*{_UNTIL_JA}?|年内"
            rf"|{_BY}\s+(?:the\s+)?end of (?:the|this) year|{_BY}\s+year[- ]end"
        ),
        _until_year_end,
    ),
    # Calendar units.
    (re.compile(r"今四半期|this quarter|current quarter"), _calendar("quarter", 0)),
    (re.compile(r"来四半期|次の四半期|next quarter"), _calendar("quarter", 1)),
    (re.compile(r"今週|this week"), _calendar("week", 0)),
    (re.compile(r"来週|next week"), _calendar("week", 1)),
    (re.compile(r"今月|this month"), _calendar("month", 0)),
    (re.compile(r"来月|next month"), _calendar("month", 1)),
    (re.compile(r"今年|this year"), _calendar("year", 0)),
    (re.compile(r"来年|next year"), _calendar("year", 1)),
    (re.compile(r"今日中?|本日中?|\btoday\b"), _calendar("day", 0)),
    # Durations from today.
    (re.compile(r"半年間?|half a year"), _half_year),
    (re.compile(rf"(?<![\d月/]){_COUNT}\s*日間?"), _duration("day")),
    (re.compile(rf"{_COUNT}\s*週間?"), _duration("week")),
    (re.compile(rf"{_COUNT}\s*(?:[ヶかカケヵ箇]月間?|ヵ月間?|月間)"), _duration("month")),
    (re.compile(rf"{_COUNT}\s*四半期"), _duration("quarter")),
    (re.compile(r"(?<!\d)(?P<n>\d{1,3}|[一二三四五六七八九十百]+)\s*年間?"), _duration("year")),
    (re.compile(rf"\b{_COUNT}\s+(?:business\s+)?days?\b"), _duration("day")),
    (re.compile(rf"\b{_COUNT}\s+weeks?\b"), _duration("week")),
    (re.compile(rf"\b{_COUNT}\s+months?\b"), _duration("month")),
    (re.compile(rf"\b{_COUNT}\s+quarters?\b"), _duration("quarter")),
    (re.compile(rf"\b{_COUNT}\s+years?\b"), _duration("year")),
]


def mask(text: str, span: tuple[int, int]) -> str:
    """Blank a consumed span with spaces, keeping every other offset where it was."""
    start, end = span
    return text[:start] + " " * (end - start) + text[end:]


def periods_find(text: str, *, today: dt.date) -> tuple[list[PeriodHit], str]:
    """Apply the rule table in order; each match is consumed (masked) so a later, looser
    rule cannot read it again ("3月31日まで" is a deadline, not "31日"). Returns the hits
    and the text with them masked out, for the amount finder."""
    hits: list[PeriodHit] = []
    for pattern, action in _RULES:
        for match in list(pattern.finditer(text)):
            if isinstance(action, Question):
                hits.append(PeriodHit(None, action, match.group()))
            else:
                window = action(match, today)
                if window.days > MAX_PERIOD_DAYS:
                    raise GoalParseError("period_too_long", _too_long(match.group()))
                hits.append(PeriodHit(window, None, match.group()))
            text = mask(text, match.span())
    return hits, text
