"""``goal_parse``: one sentence (Japanese or English) to a ParsedGoal, by rules only.

Order matters and is fixed: baselines and percentages are read (and masked) first, then
periods, then amounts, so "20%" and "30 days" are never read as amounts and "3月31日"
never as "31日". Nothing is invented: what the rules cannot find is a gap and a question
(the model fills gaps in a later step; anything not from the rules is confirmed by a
person before the goal runs).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from decimal import Decimal

from goals.parsing.numbers import AmountKind, AmountMatch, amounts_find, to_count, to_minor
from goals.parsing.percent import percent_find
from goals.parsing.periods import PeriodHit, periods_find
from goals.parsing.result import (
    CURRENCY_EXPONENTS,
    DateWindow,
    FieldSource,
    GoalParseError,
    Metric,
    ParsedGoal,
    Question,
)

# A goal is a sentence or two. The bound is checked before any normalisation or regex so
# a 10 MB paste costs nothing; it is checked again after NFKC, which can expand text.
MAX_TEXT_CHARS = 1000

_TRIAL_WORDS = re.compile(r"トライアル|試用|無料体験|体験登録|\btrials?\b|\bsign-?ups?\b")
_CUSTOMER_WORDS = re.compile(
    r"顧客|会員|お客|客数|新規客|購読者|\b(?:customers?|clients?|members?|subscribers?|users?|buyers?)\b"
)
_REVENUE_WORDS = re.compile(r"売上|売り上げ|収益|稼|\b(?:revenue|sales|earn|make)\b|作り|作る")
_COUNT_UNIT_TRIALS = re.compile(r"trials?|sign-?ups?")

_Q_NO_AMOUNT = Question("target_amount", "no_amount", "How much? Give the target amount.")
_Q_NO_PERIOD = Question("period", "no_period", "By when? Give a date or a number of days.")
_Q_NO_BASELINE = Question(
    "baseline",
    "no_baseline",
    "Growth compared with what? For example 前月比 (last month) or 前年同月比.",
)
_Q_NO_METRIC = Question("metric", "no_metric", "What should grow: revenue, customers or trials?")
_Q_MANY_AMOUNTS = Question(
    "target_amount", "several_amounts", "Several amounts were named; which one is the target?"
)
_Q_MANY_PERIODS = Question(
    "period", "several_periods", "Several periods were named; which one is meant?"
)
_Q_MANY_PERCENTS = Question(
    "growth_pct", "several_percents", "Several percentages were named; which one is the target?"
)
_Q_DIRECTION = Question("growth_pct", "ambiguous_direction", "Should it go up or down?")


def _bound_text(text: object) -> str:
    if not isinstance(text, str):
        raise GoalParseError("not_text", "a goal must be text")
    if len(text) > MAX_TEXT_CHARS:
        raise GoalParseError(
            "text_too_long",
            f"the goal is {len(text)} characters long; at most {MAX_TEXT_CHARS} are accepted",
        )
    normalized = unicodedata.normalize("NFKC", text)
    if len(normalized) > MAX_TEXT_CHARS:
        raise GoalParseError(
            "text_too_long", f"the goal is too long; at most {MAX_TEXT_CHARS} characters"
        )
    if not normalized.strip():
        raise GoalParseError("empty", "the goal is empty; type what you want to achieve")
    return normalized


def goal_parse(text: str, *, today: dt.date, default_currency: str) -> ParsedGoal:
    """Parse ``text`` with the rule table. ``today`` anchors relative dates (pass it; the
    parser never reads the clock). ``default_currency`` is the currency of a bare amount
    (``BIZAGENT_DEFAULT_CURRENCY``), marked ``default`` in ``fields_from``.

    Raises GoalParseError (with a message naming the problem) for input that cannot be a
    goal: too long, negative, zero, absurd periods or amounts, past deadlines.
    """
    if default_currency not in CURRENCY_EXPONENTS:
        raise GoalParseError(
            "unknown_currency",
            f"default currency {default_currency!r} is not one of {sorted(CURRENCY_EXPONENTS)}",
        )
    original = _bound_text(text)
    # Lower-cased once so English rules need no flags; Japanese is unaffected.
    work = original.lower()
    fields_from: dict[str, FieldSource] = {}
    questions: list[Question] = []

    percents, work = percent_find(work)
    period_hits, work = periods_find(work, today=today)
    amounts = amounts_find(work)

    period = _pick_period(period_hits, questions)
    if period is not None:
        fields_from["period"] = FieldSource.RULES

    growth_pct = None
    baseline: DateWindow | None = None
    if percents.values:
        distinct = set(percents.values)
        if len(distinct) > 1:
            questions.append(_Q_MANY_PERCENTS)
        elif percents.conflicting_direction:
            questions.append(_Q_DIRECTION)
        else:
            growth_pct = distinct.pop()
            fields_from["growth_pct"] = FieldSource.RULES
    if percents.baseline is not None:
        baseline = percents.baseline(period.start if period else today)
        fields_from["baseline"] = FieldSource.RULES

    metric, target, currency = _pick_target(
        original.lower(), percents.values, amounts, default_currency, fields_from, questions
    )

    if percents.values and baseline is None:
        questions.append(_Q_NO_BASELINE)
    if metric is None and not any(q.field == "metric" for q in questions):
        questions.append(_Q_NO_METRIC)
    needs_amount = metric is not None and metric != Metric.REVENUE_GROWTH
    if needs_amount and target is None and not any(q.field == "target_amount" for q in questions):
        questions.append(_Q_NO_AMOUNT)
    if metric is None and target is None and not any(q.field == "target_amount" for q in questions):
        questions.append(_Q_NO_AMOUNT)
    if period is None and not any(q.field == "period" for q in questions):
        questions.append(_Q_NO_PERIOD)

    gaps = tuple(dict.fromkeys(question.field for question in questions))
    return ParsedGoal(
        text=original,
        metric=metric,
        target_amount=target,
        currency=currency,
        growth_pct=growth_pct,
        baseline=baseline,
        period=period,
        fields_from=fields_from,
        questions=tuple(questions),
        gaps=gaps,
    )


def _pick_period(hits: list[PeriodHit], questions: list[Question]) -> DateWindow | None:
    asks = [hit.question for hit in hits if hit.question is not None]
    windows = {hit.window for hit in hits if hit.window is not None}
    if asks:
        questions.append(asks[0])
        return None
    if len(windows) > 1:
        questions.append(_Q_MANY_PERIODS)
        return None
    return windows.pop() if windows else None


def _pick_target(
    lowered: str,
    percents: list[Decimal],
    amounts: list[AmountMatch],
    default_currency: str,
    fields_from: dict[str, FieldSource],
    questions: list[Question],
) -> tuple[Metric | None, int | None, str | None]:
    """Decide the metric and its target from what was found, most explicit first:
    a percentage → revenue growth; a named currency → revenue; a count unit or count
    words → customers/trials; a bare number → revenue in the default currency."""
    money = [a for a in amounts if a.kind is AmountKind.MONEY]
    counts = [a for a in amounts if a.kind is AmountKind.COUNT]
    bare = [a for a in amounts if a.kind is AmountKind.BARE]
    count_metric = _count_metric(lowered, counts)

    if percents:
        metric: Metric | None = Metric.REVENUE_GROWTH
        candidates = money or bare
    elif money:
        metric, candidates = Metric.REVENUE, money
    elif count_metric is not None:
        metric, candidates = count_metric, counts or bare
    elif bare:
        metric, candidates = Metric.REVENUE, bare
    elif _REVENUE_WORDS.search(lowered):
        metric, candidates = Metric.REVENUE, []
    else:
        metric, candidates = None, []
    if metric is not None:
        fields_from["metric"] = FieldSource.RULES
    if not candidates:
        # The currency is still known (named or default) even when the amount is a gap.
        return metric, None, _currency_of(metric, None, default_currency, fields_from)
    if len({(a.value, a.currency) for a in candidates}) > 1:
        questions.append(_Q_MANY_AMOUNTS)
        return metric, None, _currency_of(metric, None, default_currency, fields_from)
    chosen = candidates[0]
    if metric in (Metric.CUSTOMERS, Metric.TRIALS):
        fields_from["target_amount"] = FieldSource.RULES
        return metric, to_count(chosen.value), None
    currency = _currency_of(metric, chosen, default_currency, fields_from)
    assert currency is not None  # money metrics always have one
    fields_from["target_amount"] = FieldSource.RULES
    return metric, to_minor(chosen.value, currency=currency), currency


def _currency_of(
    metric: Metric | None,
    chosen: AmountMatch | None,
    default_currency: str,
    fields_from: dict[str, FieldSource],
) -> str | None:
    if metric not in (Metric.REVENUE, Metric.REVENUE_GROWTH):
        return None
    if chosen is not None and chosen.currency:
        fields_from["currency"] = FieldSource.RULES
        return chosen.currency
    fields_from["currency"] = FieldSource.DEFAULT
    return default_currency


def _count_metric(lowered: str, counts: list[AmountMatch]) -> Metric | None:
    if any(a.unit and _COUNT_UNIT_TRIALS.fullmatch(a.unit) for a in counts):
        return Metric.TRIALS
    if _TRIAL_WORDS.search(lowered):
        return Metric.TRIALS
    if counts or _CUSTOMER_WORDS.search(lowered):
        return Metric.CUSTOMERS
    return None
