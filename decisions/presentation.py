"""Decisions in business terms: what approving changes, the evidence, the details.

A decision's title and situation are written by whoever asked, sometimes in engineer
words ("explore ratio 0.60 → 0.31"). A *presenter* turns one action's decision into a
plain summary of what approving changes (money, time, effort, people) and a small
evidence table built from the action's arguments and subject. The apps that request
decisions register their presenters here at start-up (``goals.presenters`` from
``GoalsConfig.ready``), the way they register action handlers with
``decisions.actions``: decisions never imports the apps above it.

The queue, the decision's page, the link pages, mails and (next) Telegram all show
``decision_present``; an action without a presenter gets the fallback: the requester's
title and situation, and its arguments as a readable table. The model's analysis
(``Decision.model_analysis``) is never part of a presentation.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _

from decisions.models import Budget, Decision
from decisions.selectors import budget_status

Row = tuple[str, str]


@dataclass(frozen=True)
class Framing:
    """What a presenter says about one decision: the summary and its evidence."""

    summary: str
    evidence: list[Row] = field(default_factory=list)
    #: What approving changes, when the summary does not say it already.
    impact: str = ""
    #: The requester's own words, for actions whose requesters write for people (a
    #: budget raise asked from the shell); never set where they carry the model's reasons.
    note: str = ""


@dataclass(frozen=True)
class OptionView:
    key: str
    label: str
    impact: str
    recommended: bool


@dataclass(frozen=True)
class Presentation:
    """Everything a person reads about a decision, in the order they need it."""

    decision_id: int
    title: str
    summary: str
    note: str
    impact: str
    evidence: list[Row]
    options: list[OptionView]
    recommendation: str
    technical: list[Row]


Presenter = Callable[[Decision], Framing]

PRESENTERS: dict[str, Presenter] = {}


def presenter_register(action: str) -> Callable[[Presenter], Presenter]:
    """Register the presenter of ``action`` (one per action; a reload is the same one)."""

    def decorator(presenter: Presenter) -> Presenter:
        existing = PRESENTERS.get(action)
        if existing is not None and (
            f"{existing.__module__}.{existing.__qualname__}"
            != f"{presenter.__module__}.{presenter.__qualname__}"
        ):
            raise ValueError(f"a presenter for {action!r} is already registered")
        PRESENTERS[action] = presenter
        return presenter

    return decorator


# --- formatting ------------------------------------------------------------------------

CURRENCY_SYMBOLS: dict[str, str] = {"JPY": "¥", "USD": "$", "EUR": "€", "GBP": "£"}
# ISO 4217 minor units for the currencies whose amounts carry no decimals.
NO_DECIMALS = frozenset({"JPY", "KRW", "VND", "CLP", "ISK"})


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def money_format(amount: Any, currency: str) -> str:
    """``¥70,000`` / ``$1,234.50`` / ``1,234.50 CHF``: grouped, the currency's decimals."""
    value = _decimal(amount)
    if value is None:
        return str(amount)
    code = (currency or "").upper()
    places = 0 if code in NO_DECIMALS else 2
    # Grouped by thousands with a comma, as both English and Japanese readers write it.
    text = f"{value.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP):,.{places}f}"
    sign = "-" if text.startswith("-") else ""
    text = text.lstrip("-")
    symbol = CURRENCY_SYMBOLS.get(code)
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{text} {code}".strip()


def count_format(value: Any) -> str:
    """``12,000``: a whole number grouped by thousands."""
    number = _decimal(value)
    if number is None:
        return str(value)
    return f"{number.quantize(Decimal(1), ROUND_HALF_UP):,.0f}"


def percent_format(fraction: Any) -> str:
    """``0.6`` → ``60%``."""
    number = _decimal(fraction)
    if number is None:
        return str(fraction)
    # Half up, as people round: 30.5% reads 31%, not banker's 30%.
    return f"{(number * 100).quantize(Decimal(1), ROUND_HALF_UP):,}%"


def date_format(value: Any) -> str:
    """An ISO date or datetime (or a date) as ``2026-05-31``."""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    try:
        return dt.date.fromisoformat(str(value)).isoformat()
    except ValueError:
        return str(value)


def key_label(key: str) -> str:
    """``goal_id`` → ``Goal``; ``from_explore_ratio`` → ``From explore ratio``."""
    words = str(key).removesuffix("_id").replace("_", " ").strip()
    return words[:1].upper() + words[1:] if words else str(key)


def value_readable(value: Any) -> str:
    """A JSON value as a person reads it: never a raw dict or list repr."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, int):
        return count_format(value)
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    if isinstance(value, Mapping):
        return "; ".join(f"{key_label(k)}: {value_readable(v)}" for k, v in value.items()) or "—"
    if isinstance(value, list | tuple):
        return ", ".join(value_readable(v) for v in value) or "—"
    return str(value)


def args_rows(args: Mapping[str, Any]) -> list[Row]:
    return [(key_label(k), value_readable(v)) for k, v in args.items()]


# --- the presentation ------------------------------------------------------------------


def _fallback(decision: Decision) -> Framing:
    rows = [(_("About"), decision.subject_repr)] if decision.subject_repr else []
    return Framing(
        summary=decision.situation,
        evidence=rows + args_rows(decision.action_args),
        impact=decision.impact,
    )


def _options(decision: Decision) -> list[OptionView]:
    return [
        OptionView(
            key=option.key,
            label=option.label,
            impact=option.impact,
            recommended=bool(option.recommended),
        )
        for option in decision.options.order_by("pk")
    ]


def decision_summary(*, decision: Decision) -> str:
    """Only the plain summary of ``decision`` (the lists): no options read, the same
    presenter and fallback as ``decision_present``."""
    presenter = PRESENTERS.get(decision.action)
    if presenter is not None:
        try:
            return presenter(decision).summary
        except (LookupError, TypeError, ValueError, ArithmeticError, AttributeError):
            pass
    return _fallback(decision).summary


def decision_present(*, decision: Decision) -> Presentation:
    """The business presentation of ``decision``: its presenter's, or the fallback.

    A presenter that fails (its subject deleted, arguments from an older version) falls
    back rather than hide the decision: a person must still be able to answer it.
    """
    presenter = PRESENTERS.get(decision.action)
    framing = _fallback(decision)
    if presenter is not None:
        try:
            framing = presenter(decision)
        except (LookupError, TypeError, ValueError, ArithmeticError, AttributeError):
            framing = _fallback(decision)
    options = _options(decision)
    labels = {option.key: option.label for option in options}
    return Presentation(
        decision_id=decision.pk,
        title=decision.title,
        summary=framing.summary,
        note=framing.note,
        impact=framing.impact,
        evidence=framing.evidence,
        options=options,
        recommendation=labels.get(decision.recommendation, decision.recommendation),
        technical=[
            (_("Action"), decision.action),
            (_("Digest"), decision.action_digest),
            *[(str(k), value_readable(v)) for k, v in decision.action_args.items()],
        ],
    )


def presentation_text(decision: Decision) -> str:
    """The plain-text form (mails' text part, Telegram): summary, evidence, options."""
    shown = decision_present(decision=decision)
    lines = [shown.title, "", shown.summary]
    if shown.note:
        lines.append(shown.note)
    if shown.impact:
        lines.append(f"{_('Impact:')} {shown.impact}")
    if shown.evidence:
        lines += ["", *(f"  {label}: {value}" for label, value in shown.evidence)]
    if shown.options:
        lines += ["", _("Options:")]
        for option in shown.options:
            mark = f" ({_('recommended')})" if option.recommended else ""
            impact = f": {option.impact}" if option.impact else ""
            lines.append(f"  - {option.label}{mark}{impact}")
    return "\n".join(lines)


# --- the presenters of the decisions app's own actions ---------------------------------


def _period_nouns() -> dict[str, str]:
    return {"daily": _("day"), "weekly": _("week"), "monthly": _("month")}


@presenter_register("decisions.budget_limit_set")
def _budget_limit(decision: Decision) -> Framing:
    args = decision.action_args
    budget = Budget.objects.get(pk=args["budget_id"])
    status = budget_status(budget=budget)
    new_limit = Decimal(str(args["limit"]))
    more = new_limit - budget.limit
    days = max(1, (status.period_end - status.period_start).days)
    # How far over the limit the current pace is, per day of the period.
    per_day = max(Decimal(0), (status.forecast - budget.limit) / days)
    summary = _(
        "Spend up to %(more)s more this %(period)s on %(name)s: %(per_day)s a day over budget"
    ) % {
        "more": money_format(more, budget.currency),
        "period": _period_nouns().get(budget.period, _("period")),
        "name": budget.name,
        "per_day": money_format(per_day, budget.currency),
    }
    last_day = (status.period_end - dt.timedelta(microseconds=1)).date()  # the end is exclusive
    rows: list[Row] = [
        (_("Budget"), budget.name),
        (_("Spent so far"), money_format(status.spent, budget.currency)),
        (_("Current limit"), money_format(budget.limit, budget.currency)),
        (_("Forecast for the period"), money_format(status.forecast, budget.currency)),
        (_("New limit if approved"), money_format(new_limit, budget.currency)),
        (
            _("Period"),
            f"{date_format(status.period_start.date())} – {date_format(last_day)}",
        ),
    ]
    # The situation is the budget check's (or a person's) plain account of the spend.
    return Framing(summary=summary, evidence=rows, note=decision.situation)


def rows_from(pairs: Iterable[tuple[str, Any]]) -> list[Row]:
    """Evidence rows from (label, value) pairs, values made readable; empty ones dropped."""
    return [(label, value_readable(v)) for label, v in pairs if v not in (None, "")]
