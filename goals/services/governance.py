"""Where the loop meets governance: strategy changes and the daily token budget.

A meta review's proposal is applied directly when it is small, and becomes a Decision
when policy says it is large (a change of 20% or more). A theme past its daily token
budget asks for a Decision instead of spending more; approving it grants tokens for
the day. Both approvals come back through the action handlers in ``goals.actions``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from decisions.actors import Actor
from decisions.models import Decision, DecisionKind
from decisions.policy import ActionProposal
from decisions.services import audit_log, decision_request, policy_check
from goals.conf import conf
from goals.models import Iteration, LoopState, Mode, TokenGrant
from goals.selectors import day_start, loop_state_get, recent_ideator_texts, tokens_granted_today
from goals.services.loop import loop_strategy_set
from goals.stats import ratio_change
from ideas.models import Theme
from ideas.selectors import portfolio_stats
from ideas.stats import repetition


def meta_review_stats(*, theme: Theme, portfolio: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the meta review judges, computed here rather than by the model.

    The portfolio's score means and variances, diversity, repetition and brand drift
    (``portfolio_stats``: bounded aggregates and a bounded sample, the same cost at
    100,000 ideas), plus the loop's own recent record. ``portfolio``: those statistics
    when the caller already has them.
    """
    if portfolio is None:
        portfolio = portfolio_stats(theme=theme)
    recent = list(
        Iteration.objects.filter(theme=theme).order_by("-id").values_list("outcome", "mode")[:100]
    )
    outcomes = [outcome for outcome, _ in recent]
    modes = [mode for _, mode in recent]
    return {
        "ideas": portfolio["ideas"],
        "human_corrected": portfolio["human_corrected"],
        "reviewed": portfolio["reviewed"],
        "refusals": portfolio["refusals"],
        "scores": portfolio["scores"],
        "diversity": portfolio["diversity"],
        "repetition": portfolio["repetition"],
        "brand": portfolio["brand"],
        "top_tags": portfolio["top_tags"],
        "ideator_repetition": repetition(
            recent_ideator_texts(theme=theme, limit=conf().recent_directions)
        ),
        "recent_iterations": len(recent),
        "recent_failure_rate": round(outcomes.count("failed") / len(outcomes), 3)
        if outcomes
        else None,
        "recent_explore_share": round(modes.count(Mode.EXPLORE) / len(modes), 3) if modes else None,
    }


def strategy_apply(
    *,
    theme: Theme,
    explore_ratio: float,
    focus: str,
    actor: Actor = None,
    decision: Decision | None = None,
    source: str,
) -> LoopState:
    """Put a strategy in force for ``theme``, logged in the same transaction."""
    if not 0.0 <= explore_ratio <= 1.0:
        raise ValueError("explore_ratio must be within [0, 1]")
    with transaction.atomic():
        previous_ratio, previous_focus = loop_strategy_set(
            theme=theme, explore_ratio=explore_ratio, focus=focus
        )
        audit_log(
            action="goals.strategy_changed",
            actor=actor,
            subject=theme,
            data={
                "source": source,
                "decision": getattr(decision, "pk", None),
                "explore_ratio": {"from": previous_ratio, "to": explore_ratio},
                "focus": {"from": previous_focus, "to": focus[:500]},
            },
        )
    return loop_state_get()


def strategy_ratio_in_force(*, theme: Theme) -> float:
    """The explore ratio the loop uses for ``theme`` now: a meta review's, else the theme's."""
    ratio, _ = loop_state_get().strategy_for(theme)
    return ratio if ratio is not None else theme.explore_ratio


def strategy_change_premise_failure(args: dict[str, Any]) -> str | None:
    """Why a strategy-change decision no longer fits, or None while it does.

    The decision proposes moving the explore ratio *from* a value; once another
    decision or a small change moved it, approving would act on a stale picture.
    """
    if "from_explore_ratio" not in args:
        return None  # asked before decisions carried their premise
    theme_id = args.get("theme_id")
    theme = Theme.objects.filter(pk=theme_id).first() if theme_id is not None else None
    if theme is None:
        return f"theme #{args.get('theme_id')} no longer exists"
    now = strategy_ratio_in_force(theme=theme)
    assumed = float(args["from_explore_ratio"])
    if abs(now - assumed) > 1e-9:
        return (
            f"the studio's explore ratio for {theme.name} is now {now:.2f}, "
            f"not {assumed:.2f} as this decision assumed"
        )
    return None


def strategy_propose(
    *,
    theme: Theme,
    proposal: dict[str, Any] | None,
    current_ratio: float,
    stats: dict[str, Any],
    iteration: Iteration,
) -> dict[str, Any]:
    """Apply a small strategy change, or request a decision for a large one.

    "Large" is policy's call (a change of 20% or more of the explore ratio or of the
    studio's effort); the size we hand policy is the larger of the ratio's relative
    change and the magnitude the model itself declared.
    """
    if not proposal:
        return {"proposed": False}
    ratio = float(proposal["explore_ratio"])
    change = max(ratio_change(current_ratio, ratio), float(proposal.get("magnitude", 0.0)))
    verdict = policy_check(
        proposal=ActionProposal(
            kind=DecisionKind.STRATEGY_CHANGE,
            change_fraction=change,
            summary=f"explore ratio {current_ratio:.2f} → {ratio:.2f}: {proposal['focus']}"[:300],
        )
    )
    if not verdict.requires_decision:
        strategy_apply(
            theme=theme,
            explore_ratio=ratio,
            focus=proposal["focus"],
            source=f"meta review (iteration {iteration.number})",
        )
        return {"proposed": True, "applied": True, "change": round(change, 3)}
    decision = decision_request(
        kind=DecisionKind.STRATEGY_CHANGE,
        title=f"Change the studio's strategy for {theme.name}",
        situation=(
            f"The meta review at iteration {iteration.number} proposes moving the explore "
            f"ratio from {current_ratio:.2f} to {ratio:.2f} and focusing on: "
            f"{proposal['focus']}\n\nWhy: {proposal['reason']}\n\n"
            f"Statistics: ideas {stats.get('ideas')}, diversity {stats.get('diversity')}, "
            f"repetition {stats.get('repetition')}, brand {stats.get('brand')}."
        ),
        impact=(
            f"A change of {change:.0%} of the studio's effort: "
            + ("more new directions." if ratio > current_ratio else "more work on the best ideas.")
        ),
        urgency="normal",
        options=[
            {
                "key": "approve",
                "label": f"Switch to explore ratio {ratio:.2f} with the proposed focus",
                "impact": "The loop follows the new strategy from its next iteration.",
                "recommended": True,
            },
            {
                "key": "reject",
                "label": f"Keep explore ratio {current_ratio:.2f}",
                "impact": "Nothing changes; the next meta review may propose again.",
                "recommended": False,
            },
        ],
        action="goals.apply_strategy_change",
        action_args={
            "theme_id": theme.pk,
            "explore_ratio": ratio,
            "focus": proposal["focus"],
            "iteration_id": iteration.pk,
            # The premise: approving is refused once the ratio in force is another.
            "from_explore_ratio": current_ratio,
        },
        subject=theme,
        model_analysis=proposal.get("reason", ""),
    )
    return {"proposed": True, "applied": False, "decision": decision.pk, "change": round(change, 3)}


def token_budget_decision_request(
    *, theme: Theme, used: int, allowed: int, now: dt.datetime
) -> Decision | None:
    """Ask a person for more tokens today, or grant them when policy allows it.

    Returns the Decision, or None when policy granted the tokens itself. Asked once per
    grant round: the request is keyed by day and round, and ``decision_request`` is
    idempotent per key.
    """
    settings = conf()
    extra = max(1, int(theme.daily_token_budget * settings.budget_extension_fraction))
    day = day_start(now).date()
    granted = tokens_granted_today(theme=theme, now=now)
    round_number = TokenGrant.objects.filter(theme=theme, day=day).count() + 1
    overrun = (used - theme.daily_token_budget) / max(1, theme.daily_token_budget)
    verdict = policy_check(
        proposal=ActionProposal(
            kind=DecisionKind.BUDGET_OVERRUN,
            overrun_fraction=max(overrun, 0.0) + extra / max(1, theme.daily_token_budget),
            summary=f"{theme.name}: {used:,} tokens used today of {allowed:,}",
        )
    )
    if not verdict.requires_decision:
        token_budget_extend(theme=theme, day=day, tokens=extra)
        return None
    return decision_request(
        kind=DecisionKind.BUDGET_OVERRUN,
        title=f"Daily token budget of {theme.name} is used up",
        situation=(
            f"The agent loop has used {used:,} tokens today ({day.isoformat()}); the daily "
            f"budget is {theme.daily_token_budget:,} and {granted:,} more were approved "
            "earlier today. It has stopped calling the model until someone decides."
        ),
        impact=f"Approving lets the loop spend {extra:,} more tokens today.",
        urgency="normal",
        options=[
            {
                "key": "approve",
                "label": f"Allow {extra:,} more tokens today",
                "impact": "The loop resumes at once and stops again at the new limit.",
                "recommended": False,
            },
            {
                "key": "reject",
                "label": "Wait until tomorrow",
                "impact": "No idea work until the budget resets at midnight.",
                "recommended": True,
            },
        ],
        action="goals.extend_token_budget",
        action_args={
            "theme_id": theme.pk,
            "day": day.isoformat(),
            "tokens": extra,
            "round": round_number,
        },
        subject=theme,
    )


def token_budget_extend(
    *,
    theme: Theme,
    day: dt.date,
    tokens: int,
    decision: Decision | None = None,
    actor: Actor = None,
) -> TokenGrant:
    """Grant ``tokens`` more for ``theme`` on ``day``; one grant per decision."""
    existing = (
        TokenGrant.objects.filter(decision_id=decision.pk).first() if decision is not None else None
    )
    if existing is not None:
        return existing
    grant = TokenGrant(
        theme=theme, day=day, tokens=tokens, decision_id=getattr(decision, "pk", None)
    )
    grant.full_clean()
    try:
        with transaction.atomic():
            grant.save()
            audit_log(
                action="goals.token_budget_extended",
                actor=actor,
                subject=theme,
                data={"day": day.isoformat(), "tokens": tokens, "decision": grant.decision_id},
            )
    except IntegrityError:
        # Only the one-grant-per-decision constraint refuses a grant: it carries a decision.
        return TokenGrant.objects.get(decision_id=grant.decision_id)
    return grant


def now_day(now: dt.datetime | None = None) -> dt.date:
    return day_start(now or timezone.now()).date()
