"""Goal decomposition: the plan's figures, by arithmetic only (pure: no ORM, no model).

The model may choose which catalogue workflows to run and explain why; every number in
a plan comes from here, in ``Decimal``, so a plan can be re-derived and tested.

Conventions:

* Amounts are integers in the currency's minor unit (JPY has none, USD has cents), as on
  ``Goal.target_amount``; counts (customers, trials) are plain integers.
* A period is ``start``..``end`` with both days included: "1週間" from a Monday is
  Monday..Sunday, seven days. Today counts as a remaining day (its sales are not in yet).
* **Rounding.** The daily target is rounded *up* to the currency's unit (ceiling, not
  half-up): a plan whose days sum to less than the target would fail by construction.
  "1週間で200万" from zero is 2,000,000 / 7 = 285,714.28… → 285,715 a day (7 × 285,715 =
  2,000,005 ≥ 2,000,000). Customers needed and units per day are rounded up for the
  same reason. Expected value per day is a forecast and is rounded half-up for display.
* **Allocation.** The daily target is filled by the given workflows cheapest first (cost
  per unit of the goal's metric, ties in the order given): each runs as many units as
  the remaining need asks, up to its ``max_per_day``; what one cap leaves goes to the
  next. Greedy by cost is the cheapest cover when yields are linear and capped. Only what
  is left after every workflow is a capacity risk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import Any

from django.db import models

from goals.catalogue import CatalogueEntry
from goals.vocabulary import COUNT_METRICS, Metric, currency_exponent

__all__ = [
    "Decomposition",
    "PlanError",
    "PlannedAction",
    "Risk",
    "RiskKind",
    "money_major",
    "plan_decompose",
]


class PlanError(ValueError):
    """Figures that cannot be planned from (a negative target, an inverted period)."""


class RiskKind(models.TextChoices):
    PERIOD_OVER = "period_over", "The period is already over"
    TARGET_MET = "target_met", "The target is already reached"
    CAPACITY = "capacity", "Not enough capacity"
    NO_ARPU = "no_arpu", "No ARPU known (assumption needed)"
    NO_WORKFLOW = "no_workflow", "No workflow drives this metric"
    NOT_COUNTED = "not_counted", "A workflow that cannot count toward this target"


@dataclass(frozen=True)
class Risk:
    kind: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "message": self.message}


@dataclass(frozen=True)
class PlannedAction:
    """One workflow's share of the daily target.

    ``value_per_unit`` and ``expected_per_day`` are in the goal's unit (minor currency
    units for revenue, people for counts); costs are in minor units of the plan currency.
    """

    entry: CatalogueEntry
    per_day: int
    capped: bool
    value_per_unit: Decimal
    expected_per_day: Decimal
    cost_per_day: int
    cost_total: int

    @property
    def params(self) -> dict[str, int]:
        return {self.entry.volume_param: self.per_day}


@dataclass(frozen=True)
class Decomposition:
    metric: str
    currency: str
    target: int
    achieved: int
    remaining: int
    days_total: int
    days_remaining: int
    daily_target: int
    customers_needed: int | None
    arpu: int | None
    actions: tuple[PlannedAction, ...]
    budget_estimate: int
    risks: tuple[Risk, ...] = field(default=())

    @property
    def expected_per_day(self) -> Decimal:
        return sum((a.expected_per_day for a in self.actions), Decimal(0))

    def risk_kinds(self) -> set[str]:
        return {risk.kind for risk in self.risks}

    def to_json(self) -> dict[str, Any]:
        """The issue's ``plan`` shape: amounts as strings in major units."""
        money = self.metric not in COUNT_METRICS

        def figure(value: int | Decimal) -> str:
            if money:
                return money_major(value, self.currency)
            return str(
                value.quantize(Decimal(1), ROUND_HALF_UP) if isinstance(value, Decimal) else value
            )

        return {
            "daily_target": figure(self.daily_target),
            "customers_needed": self.customers_needed,
            "arpu": None if self.arpu is None else money_major(self.arpu, self.currency),
            "days_remaining": self.days_remaining,
            "actions": [
                {
                    "workflow": a.entry.workflow,
                    "catalogue": a.entry.key,
                    "params": a.params,
                    "per_day": a.per_day,
                    "expected": figure(a.expected_per_day),
                    "cost_per_day": money_major(a.cost_per_day, self.currency),
                    "cost": money_major(a.cost_total, self.currency),
                }
                for a in self.actions
            ],
            "budget_estimate": money_major(self.budget_estimate, self.currency),
            "risks": [risk.to_json() for risk in self.risks],
        }


def money_major(amount: int | Decimal, currency: str) -> str:
    """``amount`` in minor units as a string in major units: 2000000 JPY → "2000000"."""
    exponent = currency_exponent(currency)
    value = Decimal(amount).quantize(Decimal(1), ROUND_HALF_UP).scaleb(-exponent)
    return f"{value:.{exponent}f}"


def _ceil(value: Decimal) -> int:
    return int(value.to_integral_value(ROUND_CEILING))


def _days(*, start: date, end: date, today: date) -> tuple[int, int]:
    """(days in the period, days left including today); both ends are included."""
    total = (end - start).days + 1
    if today > end:
        return total, 0
    return total, (end - max(today, start)).days + 1


def _value_per_unit(
    entry: CatalogueEntry, *, metric: str, currency: str, arpu: int | None
) -> tuple[Decimal | None, str]:
    """One unit's worth toward ``metric`` (minor units or people), or None and why not."""
    if metric in COUNT_METRICS:
        if entry.metric == metric:
            return entry.yield_per_unit, ""
        return None, f"{entry.title} drives {entry.metric}, not {metric}"
    if entry.metric == Metric.CUSTOMERS:
        if arpu is None:
            return None, ""  # reported once as NO_ARPU
        return entry.yield_per_unit * arpu, ""
    if entry.metric == Metric.REVENUE:
        if entry.currency != currency:
            return None, f"{entry.title} yields {entry.currency}, the goal is in {currency}"
        return entry.yield_per_unit.scaleb(currency_exponent(currency)), ""
    return None, f"{entry.title} drives {entry.metric}, which has no known value in revenue"


def plan_decompose(
    *,
    target: int,
    achieved: int,
    start: date,
    end: date,
    today: date,
    arpu: int | None,
    catalogue: Sequence[CatalogueEntry],
    metric: str = Metric.REVENUE,
    currency: str = "JPY",
) -> Decomposition:
    """Daily target, customers needed, volumes per workflow, budget and risks.

    ``target`` and ``achieved`` are in ``metric``'s unit (minor units of ``currency`` for
    revenue; a growth goal passes its absolute target). ``arpu`` is revenue per paying
    customer in minor units, None when unknown. ``catalogue`` lists the workflows chosen
    for the goal. Raises ``PlanError`` on figures nothing can be planned from.
    """
    if metric not in Metric.values:
        raise PlanError(f"metric must be one of {', '.join(Metric.values)}, got {metric!r}")
    try:
        exponent = currency_exponent(currency)
    except ValueError as exc:
        raise PlanError(str(exc)) from None
    if target <= 0:
        raise PlanError(f"target must be above zero, got {target}")
    if end < start:
        raise PlanError(f"the period ends ({end}) before it starts ({start})")
    if arpu is not None and arpu <= 0:
        raise PlanError(f"arpu must be above zero when given, got {arpu}")

    days_total, days_remaining = _days(start=start, end=end, today=today)
    remaining = max(target - achieved, 0)
    risks: list[Risk] = []
    money = metric not in COUNT_METRICS

    customers_needed: int | None = None
    if metric == Metric.CUSTOMERS:
        customers_needed = remaining
    elif money and arpu is not None:
        customers_needed = _ceil(Decimal(remaining) / Decimal(arpu))

    # The figures every plan carries; a plan with nothing to run is this one as it is.
    nothing_to_run = Decomposition(
        metric=metric,
        currency=currency,
        target=target,
        achieved=achieved,
        remaining=remaining,
        days_total=days_total,
        days_remaining=days_remaining,
        daily_target=0,
        customers_needed=customers_needed,
        arpu=arpu,
        actions=(),
        budget_estimate=0,
    )
    if remaining == 0:
        met = Risk(RiskKind.TARGET_MET, f"{achieved} of {target} is already reached.")
        return replace(nothing_to_run, risks=(met,))
    if days_remaining == 0:
        over = Risk(
            RiskKind.PERIOD_OVER,
            f"The period ended on {end.isoformat()}; {remaining} is still missing.",
        )
        # No day is left to schedule in: the whole remainder is the shortfall.
        return replace(nothing_to_run, daily_target=remaining, risks=(over,))

    daily_target = _ceil(Decimal(remaining) / days_remaining)
    if money and arpu is None:
        risks.append(
            Risk(
                RiskKind.NO_ARPU,
                "No ARPU is known: customers needed and volumes of customer-driven "
                "workflows cannot be computed. Enter an ARPU or connect a metric source.",
            )
        )

    candidates: list[tuple[Decimal, int, CatalogueEntry, Decimal, int]] = []
    for order, entry in enumerate(catalogue):
        value, why_not = _value_per_unit(entry, metric=metric, currency=currency, arpu=arpu)
        if value is None:
            if why_not:
                risks.append(Risk(RiskKind.NOT_COUNTED, why_not + "; not counted."))
            continue
        if entry.currency != currency:
            risks.append(
                Risk(
                    RiskKind.NOT_COUNTED,
                    f"{entry.title} costs in {entry.currency}, the plan budgets in "
                    f"{currency}; not counted.",
                )
            )
            continue
        unit_cost = int(entry.unit_cost.scaleb(exponent))  # exact: validated decimals
        candidates.append((Decimal(unit_cost) / value, order, entry, value, unit_cost))
    candidates.sort(key=lambda c: (c[0], c[1]))

    if not candidates and not (money and arpu is None):
        risks.append(Risk(RiskKind.NO_WORKFLOW, f"No chosen workflow drives {metric}."))

    actions: list[PlannedAction] = []
    need = Decimal(daily_target)
    for _, _, entry, value, unit_cost in candidates:
        if need <= 0:
            break
        wanted = _ceil(need / value)
        per_day = min(wanted, entry.max_per_day)
        expected = per_day * value
        cost_per_day = per_day * unit_cost
        actions.append(
            PlannedAction(
                entry=entry,
                per_day=per_day,
                capped=wanted > entry.max_per_day,
                value_per_unit=value,
                expected_per_day=expected,
                cost_per_day=cost_per_day,
                cost_total=cost_per_day * days_remaining,
            )
        )
        need -= expected

    if need > 0 and candidates:
        reach = Decimal(daily_target) - need
        shown = money_major(reach, currency) if money else str(_ceil(reach))
        target_shown = money_major(daily_target, currency) if money else str(daily_target)
        risks.append(
            Risk(
                RiskKind.CAPACITY,
                f"At their daily caps the workflows reach {shown} of the {target_shown} "
                "needed a day; the target is not reachable without more capacity.",
            )
        )

    return replace(
        nothing_to_run,
        daily_target=daily_target,
        actions=tuple(actions),
        budget_estimate=sum(a.cost_total for a in actions),
        risks=tuple(risks),
    )
