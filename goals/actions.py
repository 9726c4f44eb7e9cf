"""Handlers that run after a person approves a goals decision (``decisions.actions``)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from decisions.actions import action_register
from goals.services import strategy_apply, token_budget_extend
from goals.services.governance import strategy_change_premise_failure
from goals.services.plans import PLAN_APPROVE_ACTION, plan_approve, plan_approve_premise
from ideas.models import Theme

if TYPE_CHECKING:
    from decisions.models import Decision


# Setting a strategy again to the same values changes nothing: safe to re-run.
@action_register(
    "goals.apply_strategy_change", idempotent=True, premise=strategy_change_premise_failure
)
def apply_strategy_change(*, args: dict[str, Any], decision: Decision) -> dict[str, Any]:
    theme = Theme.objects.get(pk=args["theme_id"])
    strategy_apply(
        theme=theme,
        explore_ratio=float(args["explore_ratio"]),
        focus=str(args.get("focus", "")),
        decision=decision,
        source=f"decision #{decision.pk}",
    )
    return {"explore_ratio": args["explore_ratio"]}


# One grant per decision (token_budget_extend looks it up first): safe to re-run.
@action_register("goals.extend_token_budget", idempotent=True)
def extend_token_budget(*, args: dict[str, Any], decision: Decision) -> dict[str, Any]:
    theme = Theme.objects.get(pk=args["theme_id"])
    grant = token_budget_extend(
        theme=theme,
        day=dt.date.fromisoformat(args["day"]),
        tokens=int(args["tokens"]),
        decision=decision,
    )
    return {"grant": grant.pk, "tokens": grant.tokens}


# plan_approve finds an approved revision unchanged: safe to re-run.
@action_register(PLAN_APPROVE_ACTION, idempotent=True, premise=plan_approve_premise)
def approve_plan(*, args: dict[str, Any], decision: Decision) -> dict[str, Any]:
    revision = plan_approve(revision_id=int(args["revision_id"]), decision=decision)
    return {"goal": revision.goal_id, "revision": revision.number}
