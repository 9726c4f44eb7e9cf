"""Spend of a step: tokens and cost summed on the step run and its run, and cost
recorded against the budgets that cover the workflow.

A budget covers a run when it is active, in the spend currency and either global (no
scope) or scoped to a version of the run's workflow (any version of its key: a new
version is the same workflow to the person who set the budget). The spend currency is
the decisions app's rule, the one place it is defined: a budget's default currency
(``Budget.currency``'s default, JPY); a step's ``cost`` carries no currency of its own,
and no setting names another (``DEFAULT_CURRENCY`` was read but never defined).
``budget_spend_record`` is idempotent per reference, and the reference is the step
run's idempotency key and attempt, so a redelivered record never counts twice.

Past a budget's line the spend is not silent: ``budget_spend_record`` asks a person
(``budget_overrun_check``: a ``budget_overrun`` decision to raise the limit), and the
run gets an audit row ``workflows.run_over_budget`` naming the budget and the decision,
once per run and decision.
"""

from __future__ import annotations

from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.db.models import F, Q

from decisions.models import AuditEvent, Budget
from decisions.models.budget import money_quantise
from decisions.services import audit_log, budget_overrun_check, budget_spend_record
from workflows.blocks.base import BlockResult
from workflows.models import Run, StepRun, Workflow

SPEND_SOURCE = "workflows.step"


def spend_currency() -> str:
    """The currency a step's ``cost`` is in: the decisions app's default for budgets."""
    return str(Budget._meta.get_field("currency").get_default())


def run_budgets(*, run: Run) -> list[Budget]:
    """The active budgets covering ``run`` (global, or scoped to its workflow's key)."""
    currency = spend_currency()
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
            _overrun_note(run=run, budget=budget)


def _overrun_note(*, run: Run, budget: Budget) -> None:
    """Tie the budget's open overrun decision (if the spend crossed the line) to the run."""
    decision = budget_overrun_check(budget=budget)
    if decision is None:
        return
    noted = AuditEvent.objects.for_subject(run).filter(
        action="workflows.run_over_budget", data__decision=decision.pk
    )
    if not noted.exists():
        audit_log(
            action="workflows.run_over_budget",
            subject=run,
            data={"budget": budget.pk, "decision": decision.pk, "kind": decision.kind},
        )
