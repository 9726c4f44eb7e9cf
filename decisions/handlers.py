"""Actions that decisions itself can run once approved."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from decisions.actions import action_register
from decisions.services.budgets import budget_update

if TYPE_CHECKING:
    from decisions.models import Decision


@action_register("decisions.budget_limit_set", idempotent=True)  # sets, never adds
def budget_limit_set(*, args: dict[str, Any], decision: Decision) -> dict[str, Any]:
    """Set a budget's limit (approving a budget_overrun decision)."""
    budget = budget_update(budget_id=int(args["budget_id"]), limit=args["limit"])
    return {"budget_id": budget.pk, "limit": str(budget.limit)}


@action_register("decisions.acknowledge", idempotent=True)
def acknowledge(*, args: dict[str, Any], decision: Decision) -> dict[str, Any]:
    """For decisions whose answer is the whole outcome: the requester reads the status.

    Nothing else runs; the applied status and its audit row record that a person said
    yes to exactly these arguments.
    """
    return {"acknowledged": True, "args": dict(args)}
