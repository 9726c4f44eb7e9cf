"""Budgets: create and change them, record spend, and ask a person when the forecast
crosses the policy line."""

from __future__ import annotations

import math
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from decisions.actors import Actor
from decisions.models import Budget, BudgetSpend, Decision
from decisions.models.budget import money_quantise
from decisions.policy import ActionProposal
from decisions.selectors import budget_status
from decisions.services.audit import audit_log
from decisions.services.decisions import decision_request
from decisions.services.policy import policy_check

BUDGET_FIELDS = ("name", "limit", "currency", "period", "active")


def _decimal(value: object, field: str) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValidationError({field: f"{value!r} is not a number."}) from None


def budget_create(
    *,
    name: str,
    limit: Decimal | int | float | str,
    period: str,
    currency: str = "JPY",
    scope: models.Model | None = None,
    actor: Actor = None,
) -> Budget:
    budget = Budget(
        name=name, limit=_decimal(limit, "limit"), period=period, currency=currency.upper()
    )
    if scope is not None:
        budget.scope_type = ContentType.objects.get_for_model(scope)
        budget.scope_id = scope.pk
    budget.full_clean()
    with transaction.atomic():
        budget.save()
        audit_log(
            action="decisions.budget_created",
            actor=actor,
            subject=budget,
            data={
                "limit": str(money_quantise(budget.limit, budget.currency)),
                "currency": budget.currency,
                "period": period,
            },
        )
    return budget


def budget_update(*, budget_id: int, actor: Actor = None, **values: Any) -> Budget:
    """Change a budget's fields; the audit row records each old and new value."""
    if actor is not None and not actor.has_perm("decisions.change_budget"):
        raise PermissionDenied("changing a budget needs decisions.change_budget")
    unknown = set(values) - set(BUDGET_FIELDS)
    if unknown:
        raise ValueError(f"not a budget field: {', '.join(sorted(unknown))}")
    if "limit" in values:
        values["limit"] = _decimal(values["limit"], "limit")
    with transaction.atomic():
        budget = Budget.objects.select_for_update().get(pk=budget_id)
        changes = {}
        for name, value in values.items():
            old = getattr(budget, name)
            if old != value:
                shown = (old, value)
                if name == "limit":
                    currency = values.get("currency", budget.currency)
                    shown = (money_quantise(old, budget.currency), money_quantise(value, currency))
                changes[name] = {"from": str(shown[0]), "to": str(shown[1])}
                setattr(budget, name, value)
        if not changes:
            return budget
        budget.updated_at = timezone.now()
        budget.full_clean()
        budget.save()
        audit_log(action="decisions.budget_updated", actor=actor, subject=budget, data=changes)
    return budget


def budget_spend_record(
    *,
    budget: Budget,
    amount: Decimal | int | float | str,
    source: str,
    reference: str = "",
    spent_at: datetime | None = None,
    actor: Actor = None,
) -> tuple[BudgetSpend, bool]:
    """Record spend; idempotent per (budget, source, reference). Returns (spend, created).

    When the period's forecast then goes past the policy line, a budget_overrun
    decision is requested (once per budget while one is pending).
    """
    spend = BudgetSpend(
        budget=budget,
        amount=_decimal(amount, "amount"),
        source=source,
        reference=reference,
        spent_at=spent_at or timezone.now(),
    )
    spend.full_clean(validate_constraints=False)
    if reference:
        existing = BudgetSpend.objects.filter(budget=budget, source=source, reference=reference)
        if (found := existing.first()) is not None:
            return found, False
    try:
        with transaction.atomic():
            spend.save()
            audit_log(
                action="decisions.budget_spent",
                actor=actor,
                subject=budget,
                data={"amount": str(spend.amount), "source": source, "reference": reference},
            )
            budget_overrun_check(budget=budget, now=spend.spent_at)
    except IntegrityError:
        if not reference:
            raise
        return BudgetSpend.objects.get(budget=budget, source=source, reference=reference), False
    return spend, True


def budget_overrun_check(*, budget: Budget, now: datetime | None = None) -> Decision | None:
    """Ask a person when the forecast is past the line; None while within it."""
    status = budget_status(budget=budget, now=now)
    verdict = policy_check(
        proposal=ActionProposal(
            kind="budget_overrun",
            overrun_fraction=status.forecast_overrun_fraction,
            summary=f"{budget.name}: forecast {status.forecast} of {status.limit}",
        )
    )
    if not verdict.requires_decision or status.forecast_overrun_fraction <= 0:
        return None
    open_one = Decision.objects.filter(
        status=Decision.Status.PENDING,
        kind="budget_overrun",
        action="decisions.budget_limit_set",
        action_args__budget_id=budget.pk,
    ).first()
    if open_one is not None:
        return open_one
    proposed = Decimal(math.ceil(status.forecast))
    return decision_request(
        kind="budget_overrun",
        title=f"Budget {budget.name} is forecast to overrun",
        situation=(
            f"Spent {status.spent} {budget.currency} of {status.limit} this period "
            f"({status.period_start:%Y-%m-%d} to {status.period_end:%Y-%m-%d}). At this pace "
            f"the period ends at {status.forecast} {budget.currency}, "
            f"{status.forecast_overrun_fraction:.0%} over the limit."
        ),
        impact=f"Raising the limit allows up to {proposed} {budget.currency} this period.",
        urgency="high" if status.over_limit else "normal",
        options=[
            {
                "key": "raise",
                "label": f"Raise the limit to {proposed} {budget.currency}",
                "impact": "Spending continues at its current pace.",
                "recommended": False,
            },
            {
                "key": "reject",
                "label": f"Keep the limit at {status.limit} {budget.currency}",
                "impact": "Actions that would spend past the limit need a decision each.",
                "recommended": True,
            },
        ],
        action="decisions.budget_limit_set",
        action_args={
            "budget_id": budget.pk,
            "limit": str(proposed),
            "period_start": status.period_start.isoformat(),
        },
        subject=budget,
    )
