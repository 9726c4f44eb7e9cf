"""Spend of a step: tokens and cost summed on the step run and its run, and cost
recorded against the budgets that cover the workflow.

A budget covers a run when it is active, in the default currency
(``BIZAGENT_DEFAULT_CURRENCY``, JPY when unset) and either global (no scope) or scoped
to a version of the run's workflow (any version of its key: a new version is the same
workflow to the person who set the budget). ``budget_spend_record`` is idempotent per
reference, and the reference is the step run's idempotency key, so a redelivered
record never counts twice.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db.models import F, Q

from decisions.models import Budget
from decisions.models.budget import money_quantise
from decisions.services import budget_spend_record
from workflows.blocks.base import BlockResult
from workflows.models import Run, StepRun, Workflow

SPEND_SOURCE = "workflows.step"


def run_budgets(*, run: Run) -> list[Budget]:
    """The active budgets covering ``run`` (global, or scoped to its workflow's key)."""
    currency = getattr(settings, "DEFAULT_CURRENCY", "JPY")
    versions = Workflow.objects.filter(key=run.workflow.key).values_list("pk", flat=True)
    scoped = Q(scope_type=ContentType.objects.get_for_model(Workflow), scope_id__in=list(versions))
    return list(
        Budget.objects.filter(active=True, currency=currency).filter(
            Q(scope_type__isnull=True) | scoped
        )
    )


def step_spend_record(*, run: Run, step_run: StepRun, result: BlockResult) -> None:
    """Add the step's spend to its run and record its cost against the run's budgets.

    Called inside the recording transaction (the step run's own columns are written by
    the same ``UPDATE`` that records it)."""
    if not (result.prompt_tokens or result.completion_tokens or result.cost):
        return
    Run.objects.filter(pk=run.pk).update(
        prompt_tokens=F("prompt_tokens") + result.prompt_tokens,
        completion_tokens=F("completion_tokens") + result.completion_tokens,
        cost=F("cost") + result.cost,
    )
    cost = Decimal(result.cost)
    if cost <= 0:
        return
    for budget in run_budgets(run=run):
        amount = money_quantise(cost, budget.currency)
        if amount:
            budget_spend_record(
                budget=budget,
                amount=amount,
                source=SPEND_SOURCE,
                reference=f"{step_run.idempotency_key}#{step_run.attempt}",
            )
